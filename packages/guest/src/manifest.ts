import { fileURLToPath } from 'node:url';

// src/ (tests, through the @vmkit/source condition) and dist/ (the published build) are both one
// level below the package root, which holds dist/images and dist/bin.
const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/** Absolute path of the guest kernel image shipped in the package (`dist/images/vmkit-guest.elf`). */
export const guestImagePath: string = `${packageRoot}dist/images/vmkit-guest.elf`;

/** Absolute path of the KVM runner built by the package build (`dist/bin/kvm-run`, Linux x86-64). */
export const kvmRunnerPath: string = `${packageRoot}dist/bin/kvm-run`;

/** One parameter of a built-in program, given on the command line as `key=value`. */
export interface ProgramParameter {
  /** The key. */
  name: string;
  /** Value used when the key is absent. */
  default: string;
  /** What it controls. */
  description: string;
}

/** A program selected by the first word of the command line. */
export interface GuestProgram {
  /** The command word. */
  name: string;
  /** `user`: a user-mode process (pid 1); `kernel`: a kernel-mode self-test. */
  mode: 'user' | 'kernel';
  /** What it does and what it exercises. */
  description: string;
  /** Its `key=value` parameters. */
  parameters: ProgramParameter[];
  /** Keys of its `RESULT <name> ...` line. */
  resultKeys: string[];
}

/** An image in the package. */
export interface GuestImage {
  /** Image name. */
  name: string;
  /** Absolute path of the ELF file. */
  path: string;
  /** ELF entry point (guest-physical = virtual). */
  entry: number;
  /** What the image is. */
  description: string;
  /** The programs the command line can select. */
  programs: GuestProgram[];
}

const p = (name: string, def: string, description: string): ProgramParameter => ({
  name,
  default: def,
  description,
});

/** The built-in programs of the vmkit guest kernel (see the README "Workloads" section). */
export const guestPrograms: readonly GuestProgram[] = [
  {
    name: 'hello',
    mode: 'user',
    description: 'Prints a greeting from user mode and exits 0: the smoke test.',
    parameters: [],
    resultKeys: ['pid'],
  },
  {
    name: 'compute',
    mode: 'user',
    description:
      'CPU-bound integer mix (bitwise CRC-32, heap sort, open-addressing hash table, integer matrix product); ' +
      'prints every partial result and a checksum. The interpreter speed benchmark.',
    parameters: [
      p('n', '20000', 'array and hash-table element count'),
      p('m', '48', 'matrix dimension'),
      p('seed', '1', 'generator seed'),
      p('iters', '1', 'repetitions (seed + i each)'),
    ],
    resultKeys: [
      'n',
      'm',
      'seed',
      'iters',
      'crc32',
      'sorted',
      'distinct',
      'hits',
      'matrix',
      'checksum',
    ],
  },
  {
    name: 'kbuild',
    mode: 'user',
    description:
      'Many short-lived processes like a kernel build: fork, touch a demand-zero working set and ' +
      'copy-on-write pages of the parent, exit. Page-table churn (shadow paging vs EPT).',
    parameters: [
      p('tasks', '32', 'processes in total'),
      p('jobs', '4', 'processes at once'),
      p('pages', '16', 'private pages each process touches'),
    ],
    resultKeys: ['tasks', 'jobs', 'pages', 'status_sum', 'fork_failures', 'ticks'],
  },
  {
    name: 'web',
    mode: 'user',
    description:
      'A server loop that forks one worker per request; each builds a response in fresh anonymous memory.',
    parameters: [
      p('requests', '64', 'requests served'),
      p('concurrency', '4', 'workers at once'),
      p('size', '2048', 'response bytes'),
    ],
    resultKeys: ['requests', 'served', 'size', 'status_sum', 'ticks'],
  },
  {
    name: 'spin',
    mode: 'user',
    description:
      'Processes contending for one kernel spinlock whose waiters spin with PAUSE (what pause-loop exiting detects), ' +
      'with chosen hold and think times.',
    parameters: [
      p('procs', '4', 'contending processes'),
      p('iters', '2000', 'acquisitions per process'),
      p('hold', '200', 'loop iterations inside the lock'),
      p('think', '200', 'loop iterations outside the lock'),
    ],
    resultKeys: ['procs', 'iters', 'hold', 'think', 'acquisitions', 'cpus_mask', 'ticks'],
  },
  {
    name: 'memdirty',
    mode: 'user',
    description:
      'Dirties a working set at a chosen rate, stride and order; stride >= 4096 with pattern=seq is the ' +
      'QEMU migration-test pattern (increment byte 0 of every page in order). Every touched byte ends at passes mod 256.',
    parameters: [
      p('mb', '4', 'working set in MiB'),
      p('passes', '4', 'sweeps over the working set'),
      p('stride', '4096', 'bytes between touched bytes within a page'),
      p('rate', '0', 'pages per timer tick (0: unlimited)'),
      p('pattern', 'seq', 'seq or random page order'),
    ],
    resultKeys: [
      'mb',
      'passes',
      'stride',
      'rate',
      'pattern',
      'pages',
      'dirtied',
      'checksum',
      'mismatches',
      'ticks',
    ],
  },
  {
    name: 'faults',
    mode: 'user',
    description:
      'Children that take a page fault and an invalid opcode are killed with 128 + vector; the parent reports both.',
    parameters: [],
    resultKeys: ['page_fault_status', 'invalid_opcode_status'],
  },
  {
    name: 'syscalls',
    mode: 'user',
    description:
      'Checks the semantics of every system call (errors, brk, mmap, sleep, fork/wait, copy-on-write isolation).',
    parameters: [],
    resultKeys: ['passed', 'failed'],
  },
  {
    name: 'preempt',
    mode: 'user',
    description:
      'A child computes without system calls while the parent sleeps: the parent prints first only if the timer preempts the child.',
    parameters: [p('loops', '200000000', 'busy-loop iterations of the child')],
    resultKeys: ['child_status'],
  },
  {
    name: 'hypercall',
    mode: 'kernel',
    description:
      'Names the hypervisor from CPUID 0x40000000, makes one raw VMCALL and reports RAX (or that it raised #UD), ' +
      'then prints and exits through the hypercall library.',
    parameters: [],
    resultKeys: ['signature', 'vmcall'],
  },
  {
    name: 'kfault',
    mode: 'kernel',
    description:
      'Writes to the unmapped page 0 in kernel mode: the exception report and debug-exit status 0x1000e.',
    parameters: [],
    resultKeys: [],
  },
];

/**
 * The images this package ships. There is one kernel image; its programs are chosen by the
 * command line.
 */
export const guestImages: readonly GuestImage[] = [
  {
    name: 'vmkit-guest',
    path: guestImagePath,
    entry: 0x10_0000,
    description:
      'The vmkit guest kernel: x86-64 long mode, own page tables, GDT/TSS/IDT, x2APIC timer and IPIs, SMP ' +
      'scheduler, processes with fork/COW/exit/wait, SYSCALL/SYSRET system calls, 16550 console, debug-exit, ' +
      'hypercall library, and the built-in workloads.',
    programs: [...guestPrograms],
  },
];
