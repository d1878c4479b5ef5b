// Exits between instructions: external-interrupt exiting (SDM Vol. 3C §26.2), interrupt-
// window exiting (§26.7.5), the VMX-preemption timer (§26.5.1), and PAUSE / PAUSE-loop
// exiting (§26.1.3), each firing and not firing. The PLE expectations are computed by the
// issue's rule written out here, not by @vmkit/vmx.
import {
  PinBasedControls as Pin,
  PrimaryProcessorControls as Primary,
  SecondaryProcessorControls as Secondary,
} from '@vmkit/vmx';
import { RFLAGS } from '@vmkit/x86';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KERNEL_CODE, system, USER_CODE } from './support/system.js';
import { exitStop, NONE } from './support/vmx.js';

const NOPS = new Array(200).fill(0x90);

describe('external-interrupt exiting', () => {
  it('a pending interrupt exits whatever IF says, acknowledged with its vector', () => {
    const s = system(NOPS);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1); // IF = 0
    s.cpu.requestInterrupt(0x30);
    s.cpu.vmEntry({ ...NONE, pinBased: Pin.EXTERNAL_INTERRUPT_EXITING });
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 1, interruptionInfo: 0x8000_0030 }));
    expect(s.cpu.pendingInterrupt).toBeUndefined();
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
  });

  it('without the control the interrupt waits for IF and goes through the guest IDT', () => {
    const s = system(NOPS);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1);
    s.cpu.requestInterrupt(0x30);
    s.cpu.vmEntry(NONE);
    expect(s.cpu.run(10)).toEqual({ kind: 'budget' });
    expect(s.cpu.pendingInterrupt).toBe(0x30);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF);
    expect(s.cpu.run(10)).toEqual({ kind: 'hlt' });
  });
});

describe('interrupt-window exiting', () => {
  it('exits before the first instruction at which IF = 1 and no STI shadow blocks', () => {
    const s = system([0x90, 0xfb, 0x90, 0x90, 0x90]); // nop; sti; nop; nop
    s.cpu.rflags = BigInt(RFLAGS.FIXED1);
    s.cpu.vmEntry({ ...NONE, primary: Primary.INTERRUPT_WINDOW_EXITING });
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 7 }));
    // NOP, STI, and the NOP in STI's shadow ran.
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + 3));
    expect(s.cpu.instructions).toBe(3);
  });

  it('an instruction in the STI shadow that exits keeps the shadow for its resumption', () => {
    const s = system([0xfb, 0x0f, 0xa2, 0x90, 0x90]); // sti; cpuid; nop; nop
    s.cpu.rflags = BigInt(RFLAGS.FIXED1);
    s.cpu.vmEntry({ ...NONE, primary: Primary.INTERRUPT_WINDOW_EXITING });
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 10, instructionLength: 2 }));
    expect(s.cpu.interruptShadow).toBe(true);
    expect(s.cpu.interruptible).toBe(false);
  });

  it('exits at once when the window is already open; never without the control', () => {
    const s = system(NOPS);
    s.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF);
    s.cpu.vmEntry({ ...NONE, primary: Primary.INTERRUPT_WINDOW_EXITING });
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 7 }));
    expect(s.cpu.instructions).toBe(0);
    const t = system(NOPS);
    t.cpu.rflags = BigInt(RFLAGS.FIXED1 | RFLAGS.IF);
    t.cpu.vmEntry(NONE);
    expect(t.cpu.run(10)).toEqual({ kind: 'budget' });
  });
});

describe('the VMX-preemption timer', () => {
  const timer = (value: number, rate = 0) => ({
    ...NONE,
    pinBased: Pin.ACTIVATE_VMX_PREEMPTION_TIMER,
    preemptionTimer: value,
    preemptionTimerRate: rate,
  });

  it('exits after exactly `value` instructions at rate 0 (TSC = instructions)', () => {
    const s = system(NOPS);
    s.cpu.vmEntry(timer(37));
    expect(s.cpu.run(1000)).toEqual(exitStop({ exitReason: 52 }));
    expect(s.cpu.instructions).toBe(37);
    expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE + 37));
    // The next run is a VM resume: the timer is loaded again.
    expect(s.cpu.run(1000)).toEqual(exitStop({ exitReason: 52 }));
    expect(s.cpu.instructions).toBe(74);
  });

  it('counts down when TSC bit X changes; a budget stop keeps the deadline', () => {
    const s = system(NOPS);
    s.cpu.run(5); // TSC 5 at entry
    s.cpu.vmEntry(timer(3, 2)); // bit 2 changes at 8, 12, 16
    expect(s.cpu.run(4)).toEqual({ kind: 'budget' });
    expect(s.cpu.run(1000)).toEqual(exitStop({ exitReason: 52 }));
    expect(s.cpu.instructions).toBe(16);
  });

  it('a timer of 0 exits before any instruction; an inactive timer never exits', () => {
    const s = system(NOPS);
    s.cpu.vmEntry(timer(0));
    expect(s.cpu.run(10)).toEqual(exitStop({ exitReason: 52 }));
    expect(s.cpu.instructions).toBe(0);
    const t = system(NOPS);
    t.cpu.vmEntry({ ...timer(3), pinBased: 0 });
    expect(t.cpu.run(100)).toEqual({ kind: 'budget' });
  });

  it('follows a given TSC source', () => {
    const s = system(NOPS, 0, { tsc: (n) => BigInt(3 * n) });
    s.cpu.vmEntry(timer(30));
    expect(s.cpu.run(1000)).toEqual(exitStop({ exitReason: 52 }));
    expect(s.cpu.instructions).toBe(10);
  });

  it('exits after value * 2^rate TSC ticks from an aligned start, for random settings', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 2 }), (v, x) => {
        const s = system(NOPS);
        s.cpu.vmEntry(timer(v, x));
        const stop = s.cpu.run(1000);
        expect(stop).toEqual(exitStop({ exitReason: 52 }));
        expect(s.cpu.instructions).toBe(v * 2 ** x);
      }),
      { numRuns: 30 },
    );
  });
});

describe('PAUSE exiting and PAUSE-loop exiting', () => {
  // loop: pause; jmp loop
  const SPIN = [0xf3, 0x90, 0xeb, 0xfc];

  it('PAUSE exiting exits on every PAUSE, at CPL 0 and 3', () => {
    for (const cpl of [0, 3] as const) {
      const s = system(SPIN, cpl);
      s.cpu.vmEntry({ ...NONE, primary: Primary.PAUSE_EXITING });
      expect(s.cpu.run(100)).toEqual(exitStop({ exitReason: 40, instructionLength: 2 }));
      expect(s.cpu.rip).toBe(BigInt(cpl === 0 ? KERNEL_CODE : USER_CODE));
    }
  });

  const ple = (gap: number, window: number) => ({
    ...NONE,
    primary: Primary.ACTIVATE_SECONDARY_CONTROLS,
    secondary: Secondary.PAUSE_LOOP_EXITING,
    pleGap: gap,
    pleWindow: window,
  });

  // The rule: a PAUSE more than Gap after the previous one starts a loop; one more
  // than Window after the loop's first PAUSE exits. PAUSEs here come every `period` TSC
  // ticks from TSC 0.
  function expectedExitTsc(period: number, gap: number, window: number): number | undefined {
    let last = -1;
    let first = -1;
    for (let t = 0; t < 2000; t += period) {
      if (last < 0 || t - last > gap) first = t;
      else if (t - first > window) return t;
      last = t;
    }
    return undefined;
  }

  it('at CPL 0 exits when a loop of PAUSEs closer than Gap outlasts Window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 30 }),
        (gap, window, filler) => {
          // loop: pause; nop * filler; jmp loop: a PAUSE every filler + 2 instructions
          const code = [0xf3, 0x90, ...new Array(filler).fill(0x90), 0xe9, ...le32(-(filler + 7))];
          const s = system(code);
          s.cpu.vmEntry(ple(gap, window));
          const stop = s.cpu.run(2000);
          const at = expectedExitTsc(filler + 2, gap, window);
          if (at === undefined) {
            expect(stop).toEqual({ kind: 'budget' });
          } else {
            expect(stop).toEqual(exitStop({ exitReason: 40, instructionLength: 2 }));
            expect(s.cpu.instructions).toBe(at);
            expect(s.cpu.rip).toBe(BigInt(KERNEL_CODE));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never exits at CPL 3 or without the control; VM resume restarts the loop', () => {
    const s = system(SPIN, 3);
    s.cpu.vmEntry(ple(10, 50));
    expect(s.cpu.run(500)).toEqual({ kind: 'budget' });
    const t = system(SPIN);
    t.cpu.vmEntry({ ...ple(10, 50), primary: 0 });
    expect(t.cpu.run(500)).toEqual({ kind: 'budget' });
    const u = system(SPIN);
    u.cpu.vmEntry(ple(10, 50));
    expect(u.cpu.run(500)).toMatchObject({ kind: 'vm-exit', info: { exitReason: 40 } });
    expect(u.cpu.instructions).toBe(52);
    // After the exit the next PAUSE is the first of a loop again: another 52 instructions.
    u.cpu.rip += 2n;
    expect(u.cpu.run(500)).toMatchObject({ kind: 'vm-exit', info: { exitReason: 40 } });
    expect(u.cpu.instructions).toBe(52 + 1 + 52);
  });
});

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
