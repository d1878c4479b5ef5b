// Segment descriptors in the GDT (SDM Vol. 3A §3.4.5, Figure 3-8) as 64-bit mode uses them:
// only the attribute bits matter (bases and limits of code and data segments are ignored,
// §3.2.4), plus the 16-byte system descriptors for the TSS (§8.2.3, Figure 8-4).
import { Vector } from '@vmkit/x86';
import type { Cpu } from '../cpu.js';
import { CpuFault } from '../fault.js';
import { linearPlus, sysRead32 } from './access.js';

/** The attribute bits of an 8-byte segment descriptor (its high dword). */
export interface SegmentAttributes {
  /** Type field (bits 11:8 of the high dword). */
  readonly type: number;
  /** S: 1 for code/data, 0 for system descriptors. */
  readonly s: boolean;
  /** Descriptor privilege level. */
  readonly dpl: number;
  /** Present. */
  readonly present: boolean;
  /** L: 64-bit code segment. */
  readonly long: boolean;
  /** D/B: default operation size. */
  readonly db: boolean;
}

/** Decodes the high dword of a segment descriptor. */
export function attributes(high: number): SegmentAttributes {
  return {
    type: (high >>> 8) & 0xf,
    s: ((high >>> 12) & 1) === 1,
    dpl: (high >>> 13) & 3,
    present: ((high >>> 15) & 1) === 1,
    long: ((high >>> 21) & 1) === 1,
    db: ((high >>> 22) & 1) === 1,
  };
}

/** Whether the descriptor is a code segment (S = 1, type bit 3 set; Table 3-1). */
export function isCode(a: SegmentAttributes): boolean {
  return a.s && (a.type & 8) !== 0;
}

/** Whether the descriptor is a writable data segment (S = 1, type 0b0x1x; Table 3-1). */
export function isWritableData(a: SegmentAttributes): boolean {
  return a.s && (a.type & 8) === 0 && (a.type & 2) !== 0;
}

/**
 * Reads the 8-byte GDT descriptor `selector` names, returning [low, high] dwords. A selector
 * with TI = 1 (the LDT, which vmkit does not model: no LLDT) or an index beyond the GDT limit
 * raises `fault` with the selector's index and TI as error code plus `ext` (SDM Vol. 3A §6.13).
 */
export function readDescriptor(
  cpu: Cpu,
  selector: number,
  fault: number = Vector.GP,
  ext = 0,
): [number, number] {
  const error = (selector & 0xfffc) | ext;
  if ((selector & 4) !== 0 || (selector | 7) > cpu.gdtrLimit) throw new CpuFault(fault, error);
  const la = linearPlus(cpu.gdtrBase, selector & 0xfff8);
  return [sysRead32(cpu, la, 0), sysRead32(cpu, la + 4, 0)];
}
