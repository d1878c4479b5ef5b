import { describe, expect, it } from 'vitest';
import { DebugExit, PioBus, Uart16550, X2APIC_MSR, X2Apic } from '../src/index.js';

describe('PioBus', () => {
  it('routes by port range, masks to the access size and floats unclaimed ports high', () => {
    const bus = new PioBus();
    const exit = new DebugExit();
    bus.register(0xf4, 4, exit);
    bus.write(0xf5, 2, 0x1_2345);
    expect(exit.status).toBe(0x2345);
    expect(bus.read(0x80, 1)).toBe(0xff);
    expect(bus.read(0x80, 4)).toBe(0xffff_ffff);
    expect(bus.unclaimed).toBe(2);
  });

  it('refuses overlapping and out-of-range registrations', () => {
    const bus = new PioBus();
    bus.register(0x3f8, 8, new DebugExit());
    expect(() => bus.register(0x3ff, 1, new DebugExit())).toThrow(
      expect.objectContaining({ code: 'PORT_CONFLICT' }),
    );
    expect(() => bus.register(0xffff, 2, new DebugExit())).toThrow(
      expect.objectContaining({ code: 'BAD_CONFIG' }),
    );
    bus.register(0x400, 1, new DebugExit());
  });
});

describe('Uart16550', () => {
  it('sends THR bytes, but not divisor-latch writes while LCR.DLAB is set', () => {
    const out: number[] = [];
    const uart = new Uart16550((b) => out.push(b));
    uart.write(3, 1, 0x80); // DLAB = 1
    uart.write(0, 1, 0x01); // DLL
    uart.write(1, 1, 0x00); // DLM
    uart.write(3, 1, 0x03); // 8N1, DLAB = 0
    uart.write(0, 1, 0x41);
    expect(out).toEqual([0x41]);
    expect(uart.divisorLatch).toBe(1);
    expect(uart.read(5, 1)).toBe(0x60); // THRE | TEMT
    uart.write(7, 1, 0x5a);
    expect(uart.read(7, 1)).toBe(0x5a);
  });
});

describe('X2Apic', () => {
  const enable = (apic: X2Apic, lvt: bigint) => {
    apic.writeMsr(X2APIC_MSR.svr, 0x1ffn, 0);
    apic.writeMsr(X2APIC_MSR.lvtTimer, lvt, 0);
    apic.writeMsr(X2APIC_MSR.timerInitialCount, 1000n, 0);
  };

  it('a periodic timer expires once per quantum, whatever the initial count', () => {
    const apic = new X2Apic(0, 100);
    enable(apic, (1n << 17n) | 32n);
    apic.advance(99);
    expect(apic.pending).toEqual([]);
    apic.advance(100);
    expect(apic.pending).toEqual([32]);
    apic.pending.length = 0;
    apic.advance(450);
    expect(apic.timerExpiries).toBe(4);
    expect(apic.pending).toEqual([32]); // one IRR bit per vector
    expect(apic.deadline).toBe(500);
  });

  it('one-shot stops after one expiry; a masked timer delivers nothing; count 0 stops it', () => {
    const one = new X2Apic(0, 10);
    enable(one, 40n);
    one.advance(100);
    expect(one.pending).toEqual([40]);
    expect(one.deadline).toBeUndefined();
    const masked = new X2Apic(0, 10);
    enable(masked, (1n << 16n) | (1n << 17n) | 32n);
    masked.advance(100);
    expect(masked.pending).toEqual([]);
    masked.writeMsr(X2APIC_MSR.timerInitialCount, 0n, 100);
    expect(masked.deadline).toBeUndefined();
  });

  it('reports its id, serves self-IPIs and drops IPIs to other APICs', () => {
    const apic = new X2Apic(3, 10);
    expect(apic.readMsr(X2APIC_MSR.id, 0)).toBe(3n);
    apic.writeMsr(X2APIC_MSR.icr, (3n << 32n) | (1n << 14n) | 33n, 0);
    apic.writeMsr(X2APIC_MSR.icr, (1n << 32n) | (1n << 14n) | 33n, 0);
    expect(apic.pending).toEqual([33]);
    expect(apic.droppedIpis).toBe(1);
  });

  it('routes fixed IPIs to other APIC ids (SDM Vol. 3A §11.12.9), drops the rest', () => {
    const apics: X2Apic[] = [];
    const route = (dest: number, vector: number) => {
      const a = apics[dest];
      if (a === undefined) return false;
      a.accept(vector);
      return true;
    };
    for (let id = 0; id < 3; id++) apics.push(new X2Apic(id, 10, route));
    const icr = (dest: number, mode: number, vector: number) =>
      (BigInt(dest) << 32n) | (1n << 14n) | BigInt(mode << 8) | BigInt(vector);
    apics[0]!.writeMsr(X2APIC_MSR.icr, icr(2, 0, 0x40), 0);
    apics[0]!.writeMsr(X2APIC_MSR.icr, icr(2, 0, 0x40), 0); // one IRR bit per vector
    apics[1]!.writeMsr(X2APIC_MSR.icr, icr(2, 0, 0x41), 0);
    apics[0]!.writeMsr(X2APIC_MSR.icr, icr(7, 0, 0x40), 0); // no APIC 7
    apics[0]!.writeMsr(X2APIC_MSR.icr, icr(1, 4, 0x40), 0); // NMI delivery mode: not modelled
    apics[0]!.writeMsr(X2APIC_MSR.icr, icr(1, 0, 0x0f), 0); // vectors 0..15 are illegal
    expect(apics[2]!.pending).toEqual([0x40, 0x41]);
    expect(apics[1]!.pending).toEqual([]);
    expect(apics[0]!.sentIpis).toBe(2);
    expect(apics[0]!.droppedIpis).toBe(3);
  });
});
