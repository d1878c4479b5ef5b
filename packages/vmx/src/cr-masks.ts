// Guest/host masks and read shadows for CR0 and CR4, SDM Vol. 3C §25.6.6 ("Guest/Host Masks
// and Read Shadows for CR0 and CR4"); which MOV to CR, CLTS and LMSW exit, §26.1.3; what the
// guest reads and what a non-exiting write changes, §26.3 ("Changes to Instruction Behavior in
// VMX Non-Root Operation"). CR3-target values, §25.6.7. All values are natural-width (64-bit)
// and taken as bigints: these paths run per MOV to CR, not per instruction.
import { CR0 } from '@vmkit/x86';
import { VmxError } from './errors.js';

const MASK64 = (1n << 64n) - 1n;

function u64(value: bigint, what: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > MASK64) {
    throw new VmxError('INVALID_VALUE', `${what} must be a bigint in [0, 2^64)`);
  }
  return value;
}

/**
 * What MOV from CR0 or CR4 returns in VMX non-root operation (SDM Vol. 3C §26.3): bits set in
 * the guest/host mask (owned by the host) come from the read shadow, the others from the
 * register.
 *
 * @param mask - the CR0 or CR4 guest/host mask
 * @param readShadow - the CR0 or CR4 read shadow
 * @param actual - the register's real value
 * @returns the value the guest reads
 * @throws {@link VmxError} `INVALID_VALUE` for a value outside [0, 2^64)
 * @example
 * ```ts
 * // the host owns CR4.VMXE (bit 13) and shows it as 0
 * guestReadsControlRegister(0x2000n, 0n, 0x2020n); // 0x20n
 * ```
 */
export function guestReadsControlRegister(
  mask: bigint,
  readShadow: bigint,
  actual: bigint,
): bigint {
  const m = u64(mask, 'mask');
  return (u64(actual, 'actual') & ~m & MASK64) | (u64(readShadow, 'read shadow') & m);
}

/**
 * Whether MOV to CR0 or MOV to CR4 exits (SDM Vol. 3C §26.1.3): it exits unless the source
 * operand matches the read shadow in every bit set in the guest/host mask.
 *
 * @param mask - the CR0 or CR4 guest/host mask
 * @param readShadow - the read shadow
 * @param source - the source operand
 * @returns true when the instruction causes a VM exit
 * @throws {@link VmxError} `INVALID_VALUE` for a value outside [0, 2^64)
 * @example
 * ```ts
 * movToControlRegisterCausesExit(0x2000n, 0n, 0x2020n); // true: sets a host-owned bit
 * movToControlRegisterCausesExit(0x2000n, 0n, 0x0020n); // false
 * ```
 */
export function movToControlRegisterCausesExit(
  mask: bigint,
  readShadow: bigint,
  source: bigint,
): boolean {
  return ((u64(source, 'source') ^ u64(readShadow, 'read shadow')) & u64(mask, 'mask')) !== 0n;
}

/**
 * The value of CR0 or CR4 after a MOV to CR, CLTS or LMSW that does not exit (SDM Vol. 3C
 * §26.3): bits set in the guest/host mask keep their value; the others take the new value.
 *
 * @param mask - the guest/host mask
 * @param current - the register's value before the instruction
 * @param written - the value the instruction would write natively
 * @returns the register's new value
 * @throws {@link VmxError} `INVALID_VALUE` for a value outside [0, 2^64)
 * @example
 * ```ts
 * controlRegisterAfterWrite(0x2000n, 0x2020n, 0x0030n); // 0x2030n
 * ```
 */
export function controlRegisterAfterWrite(mask: bigint, current: bigint, written: bigint): bigint {
  const m = u64(mask, 'mask');
  return (u64(current, 'current') & m) | (u64(written, 'written') & ~m & MASK64);
}

/**
 * Whether CLTS exits (SDM Vol. 3C §26.1.3): when bit 3 (TS) is set in both the CR0 guest/host
 * mask and the CR0 read shadow.
 *
 * @param cr0Mask - the CR0 guest/host mask
 * @param cr0ReadShadow - the CR0 read shadow
 * @returns true when CLTS causes a VM exit
 * @throws {@link VmxError} `INVALID_VALUE` for a value outside [0, 2^64)
 * @example
 * ```ts
 * cltsCausesExit(0x8n, 0x8n); // true
 * ```
 */
export function cltsCausesExit(cr0Mask: bigint, cr0ReadShadow: bigint): boolean {
  const ts = BigInt(CR0.TS);
  return (u64(cr0Mask, 'mask') & u64(cr0ReadShadow, 'read shadow') & ts) !== 0n;
}

/**
 * Whether LMSW exits (SDM Vol. 3C §26.1.3). LMSW writes only CR0 bits 3:0 and never clears PE,
 * so it exits when (a) bit 0 is set in the mask and in the source and clear in the read shadow,
 * or (b) some bit in 3:1 is set in the mask and the source and shadow differ there.
 *
 * @param cr0Mask - the CR0 guest/host mask
 * @param cr0ReadShadow - the CR0 read shadow
 * @param source - the 16-bit LMSW source operand
 * @returns true when LMSW causes a VM exit
 * @throws {@link VmxError} `INVALID_VALUE` for a value outside its range
 * @example
 * ```ts
 * lmswCausesExit(0x1n, 0x0n, 0x1n); // true: would set a host-owned PE
 * lmswCausesExit(0x1n, 0x1n, 0x0n); // false: LMSW cannot clear PE
 * ```
 */
export function lmswCausesExit(cr0Mask: bigint, cr0ReadShadow: bigint, source: number): boolean {
  if (!Number.isInteger(source) || source < 0 || source > 0xffff) {
    throw new VmxError('INVALID_VALUE', `LMSW source ${source} is not a 16-bit value`);
  }
  const m = Number(u64(cr0Mask, 'mask') & 0xfn);
  const shadow = Number(u64(cr0ReadShadow, 'read shadow') & 0xfn);
  if ((m & source & 1) !== 0 && (shadow & 1) === 0) return true;
  return ((source ^ shadow) & m & 0xe) !== 0;
}

/**
 * Whether MOV to CR3 exits (SDM Vol. 3C §26.1.3, §25.6.7): when "CR3-load exiting" is 1 and
 * the source operand equals none of the first `cr3TargetCount` CR3-target values.
 *
 * @param cr3LoadExiting - the "CR3-load exiting" control
 * @param targets - the CR3-target values (the processor supports at most 4, IA32_VMX_MISC)
 * @param cr3TargetCount - the CR3-target count field
 * @param source - the source operand
 * @returns true when the instruction causes a VM exit
 * @throws {@link VmxError} `INVALID_VALUE` for a count above the number of targets given
 * @example
 * ```ts
 * movToCr3CausesExit(true, [0x1000n], 1, 0x1000n); // false: a known target
 * movToCr3CausesExit(true, [0x1000n], 0, 0x1000n); // true: count 0 means every load exits
 * ```
 */
export function movToCr3CausesExit(
  cr3LoadExiting: boolean,
  targets: readonly bigint[],
  cr3TargetCount: number,
  source: bigint,
): boolean {
  if (!Number.isInteger(cr3TargetCount) || cr3TargetCount < 0 || cr3TargetCount > targets.length) {
    throw new VmxError('INVALID_VALUE', `CR3-target count ${cr3TargetCount} exceeds the targets`);
  }
  if (!cr3LoadExiting) return false;
  for (let i = 0; i < cr3TargetCount; i++) if (targets[i] === source) return false;
  return true;
}
