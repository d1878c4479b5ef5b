// Exception classes and the double-fault rules, SDM Vol. 3A §6.15 "Interrupt 8—Double Fault
// Exception (#DF)", Tables 6-4 and 6-5.
import { Vector } from '@vmkit/x86';

/** The class of an exception for the double-fault rules (Table 6-4). */
export type ExceptionClass = 'benign' | 'contributory' | 'pageFault';

/**
 * The class of exception `vector`: #DE, #TS, #NP, #SS, #GP (and #CP) are contributory, #PF
 * (and #VE) are page faults, everything else (and every interrupt) is benign.
 *
 * @param vector - an exception vector
 * @returns its class
 */
export function exceptionClass(vector: number): ExceptionClass {
  switch (vector) {
    case Vector.DE:
    case Vector.TS:
    case Vector.NP:
    case Vector.SS:
    case Vector.GP:
    case Vector.CP:
      return 'contributory';
    case Vector.PF:
    case Vector.VE:
      return 'pageFault';
    default:
      return 'benign';
  }
}

/**
 * What the processor does when `second` is raised while delivering `first` (Table 6-5):
 * deliver the second serially, generate #DF, or shut down (triple fault: a #DF whose
 * delivery raised a contributory exception or a page fault).
 *
 * @param first - the exception being delivered, or undefined for an interrupt (benign)
 * @param second - the exception raised while delivering it
 * @returns the action
 */
export function nestedAction(
  first: number | undefined,
  second: number,
): 'serial' | 'doubleFault' | 'shutdown' {
  const b = exceptionClass(second);
  if (first === Vector.DF) return b === 'benign' ? 'serial' : 'shutdown';
  const a = first === undefined ? 'benign' : exceptionClass(first);
  if (a === 'contributory' && b === 'contributory') return 'doubleFault';
  if (a === 'pageFault' && b !== 'benign') return 'doubleFault';
  return 'serial';
}
