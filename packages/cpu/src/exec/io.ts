// Port I/O: IN and OUT (SDM Vol. 2 IN, OUT; protection per Vol. 1 §19.5). The CPU does not
// model devices: it stops `run` with an `io` stop reason and the host performs the access.
import { RFLAGS } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import type { Instr } from '../decoder/instr.js';
import { generalProtection } from '../fault.js';
import { writeReg } from './operands.js';

/**
 * I/O is allowed when CPL <= IOPL (SDM Vol. 1 §19.5.1). Otherwise the processor consults the
 * I/O permission bitmap in the TSS (§19.5.2); this CPU has no TSS loaded yet (TR's limit is
 * 0, so the bitmap lies beyond it) and the access raises #GP(0), as it would on a processor
 * whose TSS has no bitmap.
 */
function checkPermission(cpu: Cpu): void {
  const iopl = (cpu.flags & RFLAGS.IOPL) >>> 12;
  if (cpu.cpl > iopl) throw generalProtection();
}

function port(cpu: Cpu, ins: Instr): number {
  return ins.operands.includes('DX') ? cpu.lo[2]! & 0xffff : ins.imm;
}

/** IN AL/AX/EAX, imm8 or DX (E4h, E5h, ECh, EDh): stops with the port for the host to read. */
export function inPort(cpu: Cpu, ins: Instr): void {
  checkPermission(cpu);
  cpu.pendingStop = {
    kind: 'io',
    direction: 'in',
    port: port(cpu, ins),
    size: ins.osize as 1 | 2 | 4,
  };
  cpu.pendingIn = ins.osize;
}

/** OUT imm8 or DX, AL/AX/EAX (E6h, E7h, EEh, EFh): stops with the port and value written. */
export function outPort(cpu: Cpu, ins: Instr): void {
  checkPermission(cpu);
  const size = ins.osize as 1 | 2 | 4;
  const value = size === 4 ? cpu.lo[0]! : cpu.lo[0]! & (size === 2 ? 0xffff : 0xff);
  cpu.pendingStop = { kind: 'io', direction: 'out', port: port(cpu, ins), size, value };
}

/** Completes an IN: writes the value the host read into AL, AX or EAX (EAX zero-extends). */
export function completeIn(cpu: Cpu, size: number, value: number): void {
  writeReg(cpu, 0, size, false, value >>> 0, 0);
}
