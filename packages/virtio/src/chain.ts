import { type GuestMemory, GuestMemoryError } from '@vmkit/memory';
import { VirtioError } from './errors.js';
import type { WorkMeter } from './work-meter.js';

/** One buffer of a descriptor chain, after validation (virtio 1.2 §2.7.5, §2.8.4). */
export interface Descriptor {
  /** Guest-physical address of the buffer. */
  readonly addr: number;
  /** Length in bytes. */
  readonly len: number;
  /** Device-writable (VIRTQ_DESC_F_WRITE) rather than device-readable. */
  readonly writable: boolean;
}

/** Reports a guest fault to the queue that produced a chain. */
export type FaultSink = (error: VirtioError) => void;

/**
 * A validated descriptor chain popped by the device: its device-readable buffers followed by its
 * device-writable buffers (§2.7.4.2), with indirect tables already flattened. Payload is moved
 * through {@link DescriptorChain.reader} and {@link DescriptorChain.writer}; the device returns
 * the chain with the queue's `addUsed(chain.head, writer.written)`.
 */
export class DescriptorChain {
  /** Head descriptor index (split) or buffer id (packed): what goes into the used ring. */
  readonly head: number;
  /** The buffers, readable ones first. */
  readonly descriptors: readonly Descriptor[];
  /** Total bytes of the device-readable buffers. */
  readonly readableBytes: number;
  /** Total bytes of the device-writable buffers. */
  readonly writableBytes: number;
  /** Number of table entries the chain occupied in the ring (packed rings advance by this). */
  readonly ringEntries: number;
  private readonly mem: GuestMemory;
  private readonly fault: FaultSink;
  private readonly meter: WorkMeter;

  /**
   * @param head - head index or buffer id
   * @param descriptors - buffers, readable first
   * @param mem - the guest memory the buffers live in
   * @param fault - where memory faults during copies are reported
   * @param meter - where copied bytes are counted
   * @param ringEntries - ring slots the chain used (defaults to 1)
   */
  constructor(
    head: number,
    descriptors: readonly Descriptor[],
    mem: GuestMemory,
    fault: FaultSink,
    meter: WorkMeter,
    ringEntries = 1,
  ) {
    this.head = head;
    this.descriptors = descriptors;
    this.mem = mem;
    this.fault = fault;
    this.meter = meter;
    this.ringEntries = ringEntries;
    let r = 0;
    let w = 0;
    for (const d of descriptors) {
      if (d.writable) w += d.len;
      else r += d.len;
    }
    this.readableBytes = r;
    this.writableBytes = w;
  }

  /** A cursor over the device-readable bytes, starting at the first one. */
  reader(): ChainReader {
    return new ChainReader(this.descriptors, false, this.mem, this.fault, this.meter, this.head);
  }

  /** A cursor over the device-writable bytes, starting at the first one. */
  writer(): ChainWriter {
    return new ChainWriter(this.descriptors, this.mem, this.fault, this.meter, this.head);
  }
}

/** Walks the buffers of one direction of a chain. */
abstract class Cursor {
  /** @internal */
  protected index: number;
  /** @internal */
  protected offset = 0;
  /** @internal */
  protected left: number;
  /** @internal */
  protected dead = false;
  /** @internal */
  protected readonly descriptors: readonly Descriptor[];
  /** @internal */
  protected readonly mem: GuestMemory;
  /** @internal */
  protected readonly fault: FaultSink;
  /** @internal */
  protected readonly meter: WorkMeter;
  /** @internal */
  protected readonly head: number;

  /** @internal */
  constructor(
    descriptors: readonly Descriptor[],
    writable: boolean,
    mem: GuestMemory,
    fault: FaultSink,
    meter: WorkMeter,
    head: number,
  ) {
    this.descriptors = descriptors;
    this.mem = mem;
    this.fault = fault;
    this.meter = meter;
    this.head = head;
    let i = 0;
    let total = 0;
    while (i < descriptors.length && descriptors[i]!.writable !== writable) i++;
    this.index = i;
    for (let k = i; k < descriptors.length && descriptors[k]!.writable === writable; k++) {
      total += descriptors[k]!.len;
    }
    this.left = total;
  }

  /** Bytes left to consume in this direction. */
  get remaining(): number {
    return this.dead ? 0 : this.left;
  }

  /** Advances over up to `n` bytes without copying; returns how many were skipped. */
  skip(n: number): number {
    return this.move(n, undefined);
  }

  /**
   * @internal
   * Moves up to `n` bytes, calling `copy(addr, from, length)` for each contiguous piece; `from`
   * is the offset of the piece within the whole transfer.
   */
  protected move(
    n: number,
    copy: ((addr: number, from: number, length: number) => void) | undefined,
  ): number {
    if (this.dead) return 0;
    let done = 0;
    const want = Math.min(n, this.left);
    try {
      while (done < want) {
        const d = this.descriptors[this.index]!;
        const piece = Math.min(d.len - this.offset, want - done);
        if (piece > 0 && copy !== undefined) copy(d.addr + this.offset, done, piece);
        done += piece;
        this.offset += piece;
        if (this.offset === d.len) {
          this.index++;
          this.offset = 0;
        }
      }
    } catch (e) {
      if (!(e instanceof GuestMemoryError)) throw e;
      // The buffer was valid at pop time but no longer is (a region was removed) or it is an
      // MMIO range: the guest pointed the device at something that is not its RAM.
      this.dead = true;
      this.fault(new VirtioError('ADDRESS_OUT_OF_RANGE', e.message, this.head));
    }
    this.left -= done;
    if (copy !== undefined && done > 0) this.meter.copied(done);
    return done;
  }
}

/** Reads the device-readable part of a chain in order (§2.7.5.1: the device reads only these). */
export class ChainReader extends Cursor {
  /**
   * Copies up to `dest.length` bytes into `dest`.
   *
   * @param dest - where the bytes go
   * @returns the number of bytes copied (less than `dest.length` at the end of the data)
   */
  read(dest: Uint8Array): number {
    return this.move(dest.length, (addr, from, length) => {
      this.mem.readBytes(addr, dest.subarray(from, from + length));
    });
  }

  /** Reads all remaining readable bytes into a new array. */
  readAll(): Uint8Array {
    const out = new Uint8Array(this.remaining);
    const n = this.read(out);
    return n === out.length ? out : out.subarray(0, n);
  }
}

/**
 * Writes the device-writable part of a chain in order (§2.7.5.1: the device never writes a
 * device-readable buffer). {@link ChainWriter.written} is the `len` to put in the used ring.
 */
export class ChainWriter extends Cursor {
  /** Bytes written so far. */
  written = 0;

  /** @internal */
  constructor(
    descriptors: readonly Descriptor[],
    mem: GuestMemory,
    fault: FaultSink,
    meter: WorkMeter,
    head: number,
  ) {
    super(descriptors, true, mem, fault, meter, head);
  }

  /**
   * Copies up to `src.length` bytes from `src` into the writable buffers.
   *
   * @param src - the bytes to write
   * @returns the number of bytes written (less than `src.length` when the buffers are full)
   */
  write(src: Uint8Array): number {
    const n = this.move(src.length, (addr, from, length) => {
      this.mem.writeBytes(addr, src.subarray(from, from + length));
    });
    this.written += n;
    return n;
  }
}
