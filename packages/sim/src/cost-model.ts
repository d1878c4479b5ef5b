import { defaultProfile } from './default-profile.js';
import { checkCycles, SimError } from './errors.js';
import {
  type CostProfile,
  EXIT_KINDS,
  type ExitKind,
  type InstructionClass,
  type MemoryLevel,
  SHADOW_KINDS,
  type ShadowKind,
} from './profile.js';

/**
 * A chargeable event with a fixed cost in the profile:
 * - `vmexit.<kind>`: a VM exit of that kind, round trip plus handler;
 * - `shadow.<kind>`: shadow-paging work inside an exit;
 * - `sched.context-switch`, `lock.handoff`, `interrupt.inject`, `mercury.mode-switch`.
 */
export type EventKind =
  | `vmexit.${ExitKind}`
  | `shadow.${ShadowKind}`
  | 'sched.context-switch'
  | 'lock.handoff'
  | 'interrupt.inject'
  | 'mercury.mode-switch';

/**
 * Prices simulation events from a {@link CostProfile}. Built once per profile: fixed-cost events
 * are compiled into a table, so `cost('vmexit.io')` is a property lookup. Every method returns an
 * integer number of cycles.
 *
 * @example
 * ```ts
 * const model = new CostModel();
 * model.cost('vmexit.cpuid'); // round trip + CPUID handler
 * model.copy(1500); // a 1500-byte packet copy
 * model.transfer('gbe', 4096); // a page over Gigabit Ethernet, latency included
 * ```
 */
export class CostModel {
  /** The profile this model prices from. */
  readonly profile: CostProfile;
  readonly #events: Readonly<Record<string, number>>;
  readonly #frequency: bigint;

  /**
   * @param profile - the profile to price from; defaults to {@link defaultProfile}. Pass profiles
   *   from outside through `loadProfile` first: the constructor trusts its shape.
   */
  constructor(profile: CostProfile = defaultProfile) {
    this.profile = profile;
    const events: Record<string, number> = Object.create(null);
    const roundTrip = profile.vmexit.roundTrip.value;
    for (const kind of EXIT_KINDS) {
      events[`vmexit.${kind}`] = roundTrip + profile.vmexit.handlers[kind].value;
    }
    for (const kind of SHADOW_KINDS) events[`shadow.${kind}`] = profile.shadow[kind].value;
    events['sched.context-switch'] = profile.scheduler.contextSwitch.value;
    events['lock.handoff'] = profile.locks.handoff.value;
    events['interrupt.inject'] = profile.interrupts.inject.value;
    events['mercury.mode-switch'] = profile.mercury.modeSwitch.value;
    this.#events = Object.freeze(events);
    this.#frequency = BigInt(profile.cpu.frequency.value);
  }

  /**
   * The fixed cost of one event.
   *
   * @param kind - the event
   * @returns cycles
   * @throws {@link SimError} `UNKNOWN_EVENT` for a kind the model does not define
   */
  cost(kind: EventKind): number {
    const c = this.#events[kind];
    if (c === undefined) throw new SimError('UNKNOWN_EVENT', `unknown event kind '${kind}'`);
    return c;
  }

  /**
   * Every fixed-cost event kind with its cost, sorted by kind.
   *
   * @returns `[kind, cycles]` pairs
   */
  eventCosts(): [EventKind, number][] {
    return Object.keys(this.#events)
      .sort()
      .map((k) => [k as EventKind, this.#events[k] as number]);
  }

  /**
   * The cost of `count` instructions of one class (memory operands are charged separately).
   *
   * @param cls - the instruction class
   * @param count - how many; a non-negative safe integer
   * @returns cycles
   */
  instructions(cls: InstructionClass, count = 1): number {
    checkCycles(count, 'instruction count');
    return this.profile.instructions[cls].value * count;
  }

  /**
   * The cost of `count` memory references served from one level of the hierarchy.
   *
   * @param level - where the references hit
   * @param count - how many
   * @returns cycles
   */
  memoryReferences(level: MemoryLevel, count = 1): number {
    checkCycles(count, 'reference count');
    return this.profile.memory.latency[level].value * count;
  }

  /**
   * The cost of copying `bytes` bytes in memory, rounded up to a whole cycle.
   *
   * @param bytes - how many bytes
   * @returns cycles
   */
  copy(bytes: number): number {
    checkCycles(bytes, 'byte count');
    return Math.ceil(bytes / this.profile.copy.bytesPerCycle.value);
  }

  /**
   * The time to send one message of `bytes` bytes over a named link: its latency plus the
   * serialization time at the link rate, in pCPU cycles, rounded up. Exact for any size (the
   * product is computed in bigint).
   *
   * @param link - a link name from the profile (`gbe`, `10gbe`, ...)
   * @param bytes - message size
   * @returns cycles
   * @throws {@link SimError} `UNKNOWN_EVENT` if the profile has no such link
   */
  transfer(link: string, bytes: number): number {
    checkCycles(bytes, 'byte count');
    const l = Object.hasOwn(this.profile.links, link) ? this.profile.links[link] : undefined;
    if (l === undefined) {
      const names = Object.keys(this.profile.links).join(', ');
      throw new SimError('UNKNOWN_EVENT', `unknown link '${link}' (profile has: ${names})`);
    }
    const rate = BigInt(l.rate.value);
    const bits = BigInt(bytes) * 8n * this.#frequency;
    const serialization = (bits + rate - 1n) / rate;
    return l.latency.value + Number(serialization);
  }

  /**
   * Converts seconds of simulated time to cycles at the profile's clock, rounded to nearest.
   *
   * @param seconds - a non-negative duration
   * @returns cycles
   */
  cyclesFromSeconds(seconds: number): number {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new SimError(
        'INVALID_CYCLES',
        `seconds must be finite and non-negative, got ${seconds}`,
      );
    }
    return Math.round(seconds * this.profile.cpu.frequency.value);
  }

  /**
   * Converts cycles to seconds at the profile's clock, for reports.
   *
   * @param cycles - a cycle count
   * @returns seconds
   */
  secondsFromCycles(cycles: number): number {
    return cycles / this.profile.cpu.frequency.value;
  }
}
