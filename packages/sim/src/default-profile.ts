import type { CostProfile, Figure, FigureSource, FigureUnit, SourceKind } from './profile.js';

/** Deep-freezes plain data so a shared profile can never be edited in place. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

function fig(value: number, unit: FigureUnit, kind: SourceKind, ref: string): Figure {
  const source: FigureSource = { kind, ref };
  return { value, unit, source };
}
const cycles = (value: number, kind: SourceKind, ref: string) => fig(value, 'cycles', kind, ref);

// Sources cited below, spelled once.
const SEED003 =
  'Dong et al., "Improving Virtualization Performance and Scalability with Advanced Hardware Accelerations" (seed 003)';
const SEED004 =
  'Zhu et al., "Optimizing the Performance of Virtual Machine Synchronization for Fault Tolerance" (seed 004)';
const SEED000 =
  'Chen et al., "Mercury: Combining Performance with Dependability Using Self-Virtualization", JCST 27(1), 2012 (seed 000)';
const OPTMAN = 'Intel 64 and IA-32 Architectures Optimization Reference Manual (order 248966)';
const LKML_SVM =
  'LKML, Dec 2020, KVM SVM VMLOAD/VMSAVE timing (https://lkml.iu.edu/hypermail/linux/kernel/2012.2/00527.html)';
const XEN_CREDIT = "Xen xen/common/sched_credit.c (the credit scheduler seed 003's Xen used)";
const GHZ = 'converted at the profile clock of 2.5 GHz';
const NEHALEM_CACHES = (what: string) =>
  `${OPTMAN}, Nehalem microarchitecture section, cache parameters table: ${what}`;

/**
 * The default cost profile: a dual-socket Xeon of the Nehalem generation running Xen, the
 * machine of seed 003, priced with figures from the seed papers, Intel's manuals, Xen's source
 * and public measurements. Every figure names its source; where no published figure was found
 * the source is `assumption` and says why the value is reasonable. Results computed with this
 * profile are simulated cycles, comparable with each other, not predictions of a real machine.
 *
 * The object is deeply frozen; load a different profile with `loadProfile`.
 *
 * @example
 * ```ts
 * import { defaultProfile } from '@vmkit/sim';
 * console.log(defaultProfile.ple.window.value, defaultProfile.ple.window.source.ref);
 * ```
 */
export const defaultProfile: CostProfile = deepFreeze({
  name: 'xeon-5500-xen',
  description:
    'Dual-socket quad-core Xeon (Nehalem generation, SMT) running Xen with HVM guests, as in seed 003 Table I, at 2.5 GHz',
  cpu: {
    frequency: fig(
      2_500_000_000,
      'Hz',
      'paper',
      `${SEED004} §5: testbed of two quad-core 2.5 GHz processors; seed 003 Table I gives the processor family but no clock`,
    ),
  },
  vmexit: {
    roundTrip: cycles(
      1_360,
      'report',
      `${LKML_SVM}: pre-vmrun to post-vmrun took 1,344-1,376 cycles for an exit handled in the kernel. AMD SVM on a 2020 CPU, not VT-x on Nehalem; Intel's 2009 note "Virtualization and Performance: Understanding VM Exits" (software.intel.com) puts a transition at hundreds to thousands of cycles, which brackets it`,
    ),
    handlers: {
      io: cycles(
        1_200,
        'report',
        `${LKML_SVM}: the KVM_RUN ioctl paths around the world switch took 576 cycles in and 576-656 cycles out; a port I/O exit to a user-space device model pays both. The device's own work is charged by the device`,
      ),
      mmio: cycles(
        1_700,
        'assumption',
        'the I/O round trip to user space (1,200, as for io) plus about 500 cycles to fetch and decode the faulting instruction, which port I/O exits get from the exit qualification instead',
      ),
      cpuid: cycles(
        100,
        'assumption',
        'a table lookup and four register writes in the hypervisor; small next to the round trip',
      ),
      msr: cycles(
        150,
        'assumption',
        'a switch on the MSR index and a read or write of a per-vCPU field; slightly more than CPUID',
      ),
      'cr-access': cycles(
        200,
        'assumption',
        'decode the exit qualification, check reserved bits, update guest CR state; shadow work (cr3-switch) is charged separately',
      ),
      invlpg: cycles(
        300,
        'assumption',
        'drop one shadow entry or flush one VPID-tagged translation; a few memory writes plus the lookup',
      ),
      hlt: cycles(
        300,
        'assumption',
        'mark the vCPU blocked and call the scheduler; the context switch that follows is charged by the scheduler',
      ),
      pause: cycles(
        300,
        'assumption',
        "the PLE handler's decision to yield (seed 003 §III.A); the yield's context switch is charged by the scheduler",
      ),
      vmcall: cycles(
        200,
        'assumption',
        'dispatch through a hypercall table; the hypercall itself charges its own work',
      ),
      'ept-violation': cycles(
        1_000,
        'assumption',
        'walk the EPT (4 references), find or allocate backing for the guest-physical page, install the entry',
      ),
      exception: cycles(
        400,
        'assumption',
        'read the exit interruption information and dispatch; shadow-paging work is charged separately by kind',
      ),
      'external-interrupt': cycles(
        500,
        'assumption',
        'the host acknowledges and handles the interrupt that caused the exit; a short host interrupt handler',
      ),
      'interrupt-window': cycles(
        150,
        'assumption',
        'clear the window-exiting control and queue the pending event for injection',
      ),
    },
  },
  shadow: {
    'pte-write': cycles(
      3_000,
      'assumption',
      `emulating a write to a write-protected guest page table (${SEED003} §II.A): decode the instruction, walk the guest table (4 references), perform the write, resync the shadow entry; a few thousand cycles. Seed 003 §V.A reports the aggregate (UP kernel build: half of all exits, 12.5% of CPU cycles) but no per-exit cost`,
    ),
    fill: cycles(
      1_500,
      'assumption',
      `building a missing shadow entry (${SEED004} §2.2 "shadow page fault"): a guest walk, a P2M lookup and one entry write`,
    ),
    'log-dirty': cycles(
      800,
      'assumption',
      `a write fault on a read-only shadow entry in log-dirty mode (${SEED004} §2.2): set the dirty bit in the bitmap and grant write`,
    ),
    'guest-fault': cycles(
      500,
      'assumption',
      'the walk finds a true guest fault; queue #PF with its error code and CR2 for injection',
    ),
    'cr3-switch': cycles(
      1_000,
      'assumption',
      'look up (or start) the shadow root for the new guest CR3 in a hash table and load it',
    ),
  },
  memory: {
    latency: {
      l1: cycles(
        4,
        'manual',
        `${OPTMAN}, Nehalem microarchitecture section, cache parameters table: L1 data cache latency 4 cycles`,
      ),
      l2: cycles(
        10,
        'manual',
        `${OPTMAN}, Nehalem microarchitecture section, cache parameters table: L2 latency 10 cycles`,
      ),
      l3: cycles(
        40,
        'manual',
        `${OPTMAN}, Nehalem microarchitecture section, cache parameters table: L3 latency 35-40+ cycles; the upper figure`,
      ),
      dram: cycles(
        150,
        'assumption',
        `about 60 ns load-to-use for local DDR3 on a two-socket Nehalem server, ${GHZ}`,
      ),
    },
    caches: {
      l1: {
        size: fig(32 * 1024, 'bytes', 'manual', NEHALEM_CACHES('L1 data cache 32 KB')),
        associativity: fig(8, 'ways', 'manual', NEHALEM_CACHES('L1 data cache 8-way')),
        lineSize: fig(64, 'bytes', 'manual', NEHALEM_CACHES('L1 data cache line size 64 bytes')),
      },
      l2: {
        size: fig(256 * 1024, 'bytes', 'manual', NEHALEM_CACHES('L2 (unified, per core) 256 KB')),
        associativity: fig(8, 'ways', 'manual', NEHALEM_CACHES('L2 8-way')),
        lineSize: fig(64, 'bytes', 'manual', NEHALEM_CACHES('L2 line size 64 bytes')),
      },
      l3: {
        size: fig(
          8 * 1024 * 1024,
          'bytes',
          'manual',
          NEHALEM_CACHES('L3 (shared by the cores of a package) 8 MB'),
        ),
        associativity: fig(16, 'ways', 'manual', NEHALEM_CACHES('L3 16-way')),
        lineSize: fig(64, 'bytes', 'manual', NEHALEM_CACHES('L3 line size 64 bytes')),
      },
    },
    pageTableShare: fig(
      0.25,
      'fraction',
      'assumption',
      "vmkit feeds only page-walk references into its cache model, but on a real core the guest's data and code compete for the same lines. Page-table lines are reused often (one 64-byte line holds 8 entries, and the upper levels are shared by every walk), so LRU keeps them longer than their share of accesses suggests, yet data misses dominate the traffic; a quarter of each level is taken as their steady share. Seed 003 §IV.B says walk cost depends on cache locality: lower this figure to study poor locality (WebBench-like process switching), raise it for a walk-bound workload",
    ),
  },
  instructions: {
    alu: cycles(
      1,
      'assumption',
      'CPI 1 for simple integer instructions; Nehalem retires up to 4 per cycle, so this is conservative and makes instruction counts read as cycles',
    ),
    mul: cycles(3, 'manual', `${OPTMAN}, instruction latency tables: IMUL r64, r64 latency 3`),
    div: cycles(
      40,
      'assumption',
      '64-bit integer divide is microcoded with data-dependent latency of tens of cycles on this generation',
    ),
    branch: cycles(1, 'assumption', 'a correctly predicted branch costs one issue slot, as alu'),
    'branch-mispredict': cycles(
      17,
      'assumption',
      'the pipeline refill after a mispredicted branch on a Nehalem-class core is in the 15-20 cycle range',
    ),
    pause: cycles(
      10,
      'manual',
      `${OPTMAN}, Skylake server section on PAUSE latency: about 10 cycles on earlier generations (up to 140 on Skylake)`,
    ),
    'string-start': cycles(
      40,
      'manual',
      `${OPTMAN}, Nehalem microarchitecture section, "REP String Enhancement": a REP string's cost is a start-up overhead plus a data-transfer rate; fast strings (ECX >= 76, REP MOVSB excepted) start in about 40 cycles and then take 4 cycles per 64 bytes (about 35 and 6 when a 16-byte transfer splits a cache line); shorter strings cost about 15-20 cycles plus one per element. vmkit prices every REP MOVS/STOS start at the fast-string figure and its bytes at copy.bytesPerCycle whatever the element size, so a guest's byte-wise copy costs what the qword form a kernel for this machine would use costs`,
    ),
  },
  copy: {
    bytesPerCycle: fig(
      8,
      'bytes/cycle',
      'assumption',
      `half the L1 peak of Nehalem (one 16-byte load and one 16-byte store per cycle), because packet and page copies stream through L2/L3. The same figure prices a guest's REP MOVS/STOS after instructions.string-start: ${OPTMAN}, Nehalem "REP String Enhancement", gives fast strings 4 cycles per 64 bytes (16 bytes/cycle) for data that stays in the cache, and a page cleared or copied by a kernel usually does not`,
    ),
  },
  links: {
    gbe: {
      rate: fig(
        1_000_000_000,
        'bit/s',
        'paper',
        `Gigabit Ethernet (IEEE 802.3ab): the switched GbE of ${SEED004} §5 and the client network of seed 003 §V.B`,
      ),
      latency: cycles(
        50_000,
        'assumption',
        `20 us for one hop through a LAN switch and NIC, ${GHZ}`,
      ),
    },
    '10gbe': {
      rate: fig(
        9_480_000_000,
        'bit/s',
        'paper',
        `${SEED003} §III.C and Fig. 13: the 82599 10GbE NIC with SR-IOV reaches its line rate of 9.48 Gbps`,
      ),
      latency: cycles(25_000, 'assumption', `10 us for one hop of a 10GbE link and NIC, ${GHZ}`),
    },
    'pv-nic-backend': {
      rate: fig(
        3_600_000_000,
        'bit/s',
        'paper',
        `${SEED003} §V.A Netperf and Fig. 11: the single-threaded PV NIC backend peaks at about 3.6 Gbps`,
      ),
      latency: cycles(
        12_500,
        'assumption',
        `5 us for an event-channel notification and the backend's wake-up, ${GHZ}`,
      ),
    },
  },
  scheduler: {
    timeSlice: cycles(
      75_000_000,
      'code',
      `${XEN_CREDIT}: CSCHED_TICKS_PER_TSLICE 3 x CSCHED_MSECS_PER_TICK 10 = 30 ms, ${GHZ}`,
    ),
    accountingPeriod: cycles(
      75_000_000,
      'code',
      `${XEN_CREDIT}: CSCHED_TICKS_PER_ACCT 3 x CSCHED_MSECS_PER_TICK 10 = 30 ms, ${GHZ}`,
    ),
    defaultWeight: fig(256, 'weight', 'code', `${XEN_CREDIT}: CSCHED_DEFAULT_WEIGHT 256`),
    contextSwitch: cycles(
      4_000,
      'assumption',
      'switching a pCPU between vCPUs loads another VMCS and saves/restores guest registers, FPU and MSR state: about 1.5 us',
    ),
  },
  locks: {
    handoff: cycles(
      100,
      'assumption',
      "moving a lock's modified cache line to another core costs more than an L3 hit (40); cross-socket more still",
    ),
  },
  ple: {
    gap: cycles(
      128,
      'paper',
      `${SEED003} §IV.C: "We set PLE_Gap to a moderate value (128 cycles)"`,
    ),
    window: cycles(
      2_048,
      'paper',
      `${SEED003} §IV.C and Fig. 4: only 0.5% of spin-locks wait more than 2048 cycles, so PLE_Window is 2048 cycles`,
    ),
  },
  interrupts: {
    inject: cycles(
      200,
      'assumption',
      'write the VM-entry interruption-information field and update the virtual APIC state',
    ),
  },
  mercury: {
    modeSwitch: cycles(
      600_000,
      'paper',
      `${SEED000}, abstract: about 0.2 ms on a 3 GHz Xeon to complete a mode switch, i.e. 600,000 cycles of that machine`,
    ),
  },
});
