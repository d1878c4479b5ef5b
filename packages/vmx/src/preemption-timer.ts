// The VMX-preemption timer, SDM Vol. 3C §26.5.1 ("VMX-Preemption Timer"): it counts down by 1
// each time bit X of the TSC changes due to the TSC incrementing, X being IA32_VMX_MISC[4:0]
// (SDM Vol. 3D §A.6); at 0 a VM exit occurs (basic exit reason 52). VM entry loads it from the
// VMX-preemption timer-value field (§27.7.4); a timer that is already 0 causes the VM exit
// before the guest executes any instruction.
import { VmxError } from './errors.js';

function check(value: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new VmxError('INVALID_VALUE', `${what} ${value} is outside 0..${max}`);
  }
  return value;
}

const TSC_MAX = Number.MAX_SAFE_INTEGER;

/**
 * How many times the VMX-preemption timer decrements while the TSC goes from `tscFrom` to
 * `tscTo`: the number of changes of TSC bit X, i.e. of multiples of 2^X passed.
 *
 * @param tscFrom - TSC at the start (0..2^53-1)
 * @param tscTo - TSC at the end, not below `tscFrom`
 * @param rate - X, IA32_VMX_MISC[4:0]
 * @returns floor(tscTo / 2^X) - floor(tscFrom / 2^X)
 * @throws {@link VmxError} `INVALID_VALUE` for out-of-range arguments
 * @example
 * ```ts
 * preemptionTimerTicks(0, 100, 5); // 3 (TSC bit 5 changed at 32, 64, 96)
 * ```
 */
export function preemptionTimerTicks(tscFrom: number, tscTo: number, rate: number): number {
  check(tscFrom, TSC_MAX, 'TSC');
  check(tscTo, TSC_MAX, 'TSC');
  check(rate, 31, 'preemption-timer rate');
  if (tscTo < tscFrom) throw new VmxError('INVALID_VALUE', 'the TSC went backwards');
  const unit = 2 ** rate;
  return Math.floor(tscTo / unit) - Math.floor(tscFrom / unit);
}

/**
 * The TSC value at which a timer started with `value` at `tscAtEntry` reaches 0 and the VM
 * exit occurs (`tscAtEntry` itself when `value` is 0).
 *
 * @param value - the VMX-preemption timer value, 0..2^32-1
 * @param tscAtEntry - TSC at VM entry
 * @param rate - X, IA32_VMX_MISC[4:0]
 * @returns the TSC at expiry
 * @throws {@link VmxError} `INVALID_VALUE` for out-of-range arguments
 * @example
 * ```ts
 * preemptionTimerDeadline(3, 40, 5); // 128: bit 5 changes at 64, 96, 128
 * ```
 */
export function preemptionTimerDeadline(value: number, tscAtEntry: number, rate: number): number {
  check(value, 0xffff_ffff, 'preemption-timer value');
  check(tscAtEntry, TSC_MAX, 'TSC');
  check(rate, 31, 'preemption-timer rate');
  if (value === 0) return tscAtEntry;
  const unit = 2 ** rate;
  return (Math.floor(tscAtEntry / unit) + value) * unit;
}

/**
 * The timer's value at `tscNow` (what "save VMX-preemption timer value" stores at a VM exit).
 *
 * @param value - the value loaded at VM entry
 * @param tscAtEntry - TSC at VM entry
 * @param tscNow - TSC now, not below `tscAtEntry`
 * @param rate - X, IA32_VMX_MISC[4:0]
 * @returns the remaining count, 0 once expired
 * @throws {@link VmxError} `INVALID_VALUE` for out-of-range arguments
 * @example
 * ```ts
 * preemptionTimerRemaining(3, 40, 100, 5); // 1
 * ```
 */
export function preemptionTimerRemaining(
  value: number,
  tscAtEntry: number,
  tscNow: number,
  rate: number,
): number {
  check(value, 0xffff_ffff, 'preemption-timer value');
  return Math.max(0, value - preemptionTimerTicks(tscAtEntry, tscNow, rate));
}
