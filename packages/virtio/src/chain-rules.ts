import type { GuestMemory } from '@vmkit/memory';
import type { Descriptor } from './chain.js';
import type { VirtioErrorCode } from './errors.js';
import { checkRam, type RamMap } from './ram-check.js';

const TWO_POW_32 = 2 ** 32;
/** An address's high dword must be below this for the address to fit 52 bits. */
const HIGH_LIMIT = 2 ** 20;

/** A rule a chain broke: the fault code and a message. */
export type ChainViolation = readonly [VirtioErrorCode, string];

/**
 * Collects the buffers of one chain and applies the rules that split and packed rings share:
 * readable buffers before writable ones (§2.7.4.2, §2.8 Scatter-Gather Support), every buffer
 * inside guest RAM, at most 2^32 bytes in total (§2.7.5.2) and at most Queue Size buffers
 * (§2.7.5.3.1, §2.8 Scatter-Gather Support).
 */
export class ChainCollector {
  /** The buffers accepted so far. */
  readonly out: Descriptor[] = [];
  private total = 0;
  private sawWritable = false;

  /**
   * @param ram - the RAM map buffers must fall into
   * @param limit - the most buffers a chain may have (Queue Size)
   */
  constructor(
    private readonly ram: RamMap,
    private readonly limit: number,
  ) {}

  /**
   * Adds one buffer given as the raw little-endian halves of its address.
   *
   * @returns the rule broken, or `undefined`
   */
  add(lo: number, hi: number, len: number, writable: boolean): ChainViolation | undefined {
    if (!writable && this.sawWritable) {
      return ['WRITABLE_BEFORE_READABLE', 'a device-readable buffer follows a device-writable one'];
    }
    this.sawWritable ||= writable;
    const addr = hi * TWO_POW_32 + lo;
    if (len > 0 && (hi >= HIGH_LIMIT || !this.ram.covers(addr, len))) {
      return ['ADDRESS_OUT_OF_RANGE', `buffer [${addr}, +${len}) is outside guest RAM`];
    }
    this.total += len;
    if (this.total > TWO_POW_32) return ['TOTAL_LENGTH_OVERFLOW', 'chain longer than 2^32 bytes'];
    this.out.push({ addr, len, writable });
    if (this.out.length > this.limit) {
      return ['CHAIN_TOO_LONG', `chain has more than ${this.limit} buffers`];
    }
    return undefined;
  }
}

/**
 * The rules for where an indirect table may be, shared by split (§2.7.5.3) and packed (§2.8.7)
 * rings: its length is a positive multiple of 16, it holds at most `maxEntries` descriptors, and
 * it is 16-byte aligned inside guest RAM.
 *
 * @param mem - guest memory
 * @param lo - low dword of the table address
 * @param hi - high dword of the table address
 * @param len - table length in bytes
 * @param maxEntries - the most descriptors the table may hold
 * @returns the rule broken, or `undefined`
 */
export function checkIndirectTable(
  mem: GuestMemory,
  lo: number,
  hi: number,
  len: number,
  maxEntries: number,
): ChainViolation | undefined {
  if (len === 0 || len % 16 !== 0) {
    return ['INDIRECT_BAD_LENGTH', `indirect table length ${len} is not a positive multiple of 16`];
  }
  if (len / 16 > maxEntries) return ['CHAIN_TOO_LONG', `indirect table longer than ${maxEntries}`];
  const addr = hi * TWO_POW_32 + lo;
  if (hi >= HIGH_LIMIT || addr % 16 !== 0 || !checkRam(mem, addr, len)) {
    return ['ADDRESS_OUT_OF_RANGE', `indirect table [${addr}, +${len}) is not in guest RAM`];
  }
  return undefined;
}
