import type { MmioHandler } from '@vmkit/memory';
import { ARI_CAPABILITY_LENGTH, AriCapability, type AriOptions } from './ari.js';
import { Bar, type BarDefinition, type BarKind, validateBars } from './bar.js';
import { ConfigSpace } from './config-space.js';
import { hex, PciError } from './errors.js';
import {
  CapabilityId,
  COMMAND_WRITABLE,
  Command,
  ExtendedCapabilityId,
  HEADER_TYPE_MULTI_FUNCTION,
  STATUS_WRITE_ONE_TO_CLEAR,
  Status,
  Type0,
} from './header.js';
import { type InterruptSink, type MessageSender, NO_INTERRUPTS } from './interrupt-sink.js';
import { MsiCapability, type MsiOptions, msiCapabilityLength } from './msi.js';
import { MSIX_CAPABILITY_LENGTH, MsixCapability, type MsixOptions } from './msix.js';
import {
  PCIE_CAPABILITY_LENGTH,
  PciExpressCapability,
  type PciExpressOptions,
} from './pci-express.js';

/** Identity and shape of a PCI function with a Type 0 header. */
export interface PciFunctionOptions {
  /** Vendor ID (PCI-SIG assigned); 0xFFFF is invalid, it is what an absent function reads. */
  readonly vendorId: number;
  /** Device ID. */
  readonly deviceId: number;
  /** Class Code, 24 bits: base class << 16 | sub-class << 8 | programming interface. */
  readonly classCode: number;
  /** Revision ID (default 0). */
  readonly revisionId?: number;
  /** Subsystem Vendor ID (default 0). */
  readonly subsystemVendorId?: number;
  /** Subsystem ID (default 0). */
  readonly subsystemId?: number;
  /** Sets bit 7 of Header Type: the device has functions besides 0 (default false). */
  readonly multiFunction?: boolean;
  /** Interrupt Pin: 0 none, 1-4 INTA#-INTD# (default 0). */
  readonly interruptPin?: 0 | 1 | 2 | 3 | 4;
  /** 4096-byte PCI Express configuration space (default true) or 256-byte conventional PCI. */
  readonly express?: boolean;
  /** The function's BARs. */
  readonly bars?: readonly BarDefinition[];
  /** Where interrupts go (default: dropped until {@link PciFunction.connectInterrupts}). */
  readonly interrupts?: InterruptSink;
}

/** A BAR as it currently decodes: enabled in Command and programmed to a usable address. */
export interface DecodedBar {
  /** BAR number (the lower one of a 64-bit pair). */
  readonly index: number;
  /** Memory (32/64-bit) or I/O. */
  readonly kind: BarKind;
  /** Programmed base address. */
  readonly base: number;
  /** Size in bytes. */
  readonly size: number;
  /** The handler serving the range (MSI-X table and PBA already routed in). */
  readonly handler: MmioHandler;
}

const ADDRESS_LIMIT = 2 ** 52;
const IO_LIMIT = 2 ** 32;
const NULL_HANDLER: MmioHandler = { read: () => 0n, write: () => {} };

/**
 * A PCI function: a Type 0 configuration header (PCI Local Bus 3.0 §6.1-6.2; PCIe Base 4.0
 * §7.5.1), its BARs, and the capability structures added to it. The device model behind it
 * owns the registers inside its BARs and calls {@link signalInterrupt} and {@link setIntx};
 * the VMM reaches the configuration space through a {@link PciSegment} (ECAM or ports
 * CF8h/CFCh) and maps {@link decodedBars} into guest-physical memory.
 *
 * Header attributes (the layout tests transcribe them from the spec): Vendor/Device/Revision/
 * Class/Header Type/Subsystem IDs/Interrupt Pin RO; Command RW bits 0,1,2,6,8,10 and RO 0 for
 * the bits PCIe retired; Status RO except the RW1C error bits 8 and 11-15; Cache Line Size and
 * Interrupt Line RW; Latency Timer, BIST, CardBus CIS, Expansion ROM, Min_Gnt, Max_Lat RO 0.
 *
 * @example
 * ```ts
 * const fn = new PciFunction({
 *   vendorId: 0x8086, deviceId: 0x10ca, classCode: 0x02_00_00,
 *   bars: [{ index: 0, kind: 'memory64', size: 0x4000, prefetchable: true, handler }],
 * });
 * fn.addPciExpress({});
 * fn.addMsix({ vectors: 3, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000 });
 * fn.config.write(0x10, 4, 0xffff_ffff);
 * fn.config.read(0x10, 4); // 0xffffc00c: 16 KiB, 64-bit, prefetchable
 * ```
 */
export class PciFunction {
  /** The configuration space; guests reach it through a segment, device models directly. */
  readonly config: ConfigSpace;
  /** The BARs, by ascending index. */
  readonly bars: readonly Bar[];
  /** The MSI capability, once added. */
  msi: MsiCapability | undefined;
  /** The MSI-X capability, once added. */
  msix: MsixCapability | undefined;
  /** The PCI Express capability, once added. */
  pciExpress: PciExpressCapability | undefined;
  /** The ARI extended capability, once added. */
  ari: AriCapability | undefined;
  private sink: InterruptSink;
  private rid: number | undefined;
  private lastCapability = 0;
  private nextCapability = 0x40;
  private lastExtended = 0;
  private nextExtended = 0x100;
  private readonly decodeListeners = new Set<(bars: readonly DecodedBar[]) => void>();
  private readonly resetListeners = new Set<() => void>();
  private decoded: readonly DecodedBar[] = [];
  private decodedKey = '';
  private intxLevel = false;
  private intxSignalled = false;
  private readonly handlers = new Map<number, MmioHandler>();
  private readonly externalBars: (() => readonly DecodedBar[]) | undefined;

  /**
   * @param options - IDs, class, BARs, interrupt pin, configuration-space size
   * @param externalBars - for functions whose BARs live elsewhere (SR-IOV VFs decode through the
   *   PF's VF BARs): supplies the decoded ranges instead of this function's own BAR registers
   */
  constructor(options: PciFunctionOptions, externalBars?: () => readonly DecodedBar[]) {
    const { vendorId, deviceId, classCode } = options;
    for (const [name, v, bits] of [
      ['vendorId', vendorId, 16],
      ['deviceId', deviceId, 16],
      ['classCode', classCode, 24],
      ['revisionId', options.revisionId ?? 0, 8],
      ['subsystemVendorId', options.subsystemVendorId ?? 0, 16],
      ['subsystemId', options.subsystemId ?? 0, 16],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) {
        throw new PciError('INVALID_REGISTER', `${name} ${v} does not fit ${bits} bits`);
      }
    }
    this.config = new ConfigSpace(options.express === false ? 256 : 4096);
    this.sink = options.interrupts ?? NO_INTERRUPTS;
    this.externalBars = externalBars;
    const cs = this.config;
    cs.define({ offset: Type0.VENDOR_ID, size: 2, value: vendorId });
    cs.define({ offset: Type0.DEVICE_ID, size: 2, value: deviceId });
    cs.define({ offset: Type0.COMMAND, size: 2, writable: COMMAND_WRITABLE });
    cs.define({ offset: Type0.STATUS, size: 2, writeOneToClear: STATUS_WRITE_ONE_TO_CLEAR });
    cs.define({
      offset: Type0.REVISION_ID,
      size: 4,
      value: (options.revisionId ?? 0) | (classCode << 8),
    });
    cs.define({ offset: Type0.CACHE_LINE_SIZE, size: 1, writable: 0xff });
    cs.define({ offset: Type0.LATENCY_TIMER, size: 1 });
    cs.define({
      offset: Type0.HEADER_TYPE,
      size: 1,
      value: options.multiFunction ? HEADER_TYPE_MULTI_FUNCTION : 0,
    });
    cs.define({ offset: Type0.BIST, size: 1 });
    cs.define({ offset: Type0.CARDBUS_CIS_POINTER, size: 4 });
    cs.define({
      offset: Type0.SUBSYSTEM_VENDOR_ID,
      size: 2,
      value: options.subsystemVendorId ?? 0,
    });
    cs.define({ offset: Type0.SUBSYSTEM_ID, size: 2, value: options.subsystemId ?? 0 });
    cs.define({ offset: Type0.EXPANSION_ROM_BASE, size: 4 });
    cs.define({ offset: Type0.CAPABILITIES_POINTER, size: 1 });
    cs.define({ offset: Type0.INTERRUPT_LINE, size: 1, writable: 0xff });
    cs.define({ offset: Type0.INTERRUPT_PIN, size: 1, value: options.interruptPin ?? 0 });
    cs.define({ offset: Type0.MIN_GNT, size: 2 });
    this.bars = validateBars(options.bars ?? []).map((def) => {
      const bar = new Bar(cs, Type0.BAR0 + 4 * def.index, def);
      bar.define();
      return bar;
    });
    cs.onWrite(Type0.COMMAND, 2, () => {
      this.refreshDecode();
      this.updateIntx();
    });
    cs.onWrite(Type0.BAR0, 24, () => this.refreshDecode());
  }

  /** The routing ID (bus << 8 | device << 3 | function) once placed in a segment. */
  get routingId(): number | undefined {
    return this.rid;
  }

  /**
   * Records where the function sits; called by {@link PciSegment} on hot-add and removal.
   *
   * @param rid - the routing ID, or undefined when removed
   */
  assignRoutingId(rid: number | undefined): void {
    this.rid = rid;
  }

  /** Vendor ID as software reads it. */
  get vendorId(): number {
    return this.config.read(Type0.VENDOR_ID, 2);
  }

  /** Whether Command.Memory Space Enable is set. */
  get memorySpaceEnabled(): boolean {
    return (this.config.read(Type0.COMMAND, 2) & Command.MEMORY_SPACE) !== 0;
  }

  /** Whether Command.I/O Space Enable is set. */
  get ioSpaceEnabled(): boolean {
    return (this.config.read(Type0.COMMAND, 2) & Command.IO_SPACE) !== 0;
  }

  /** Whether Command.Bus Master Enable is set: the function may issue DMA and MSI writes. */
  get busMasterEnabled(): boolean {
    return (this.config.read(Type0.COMMAND, 2) & Command.BUS_MASTER) !== 0;
  }

  /**
   * Connects the function's interrupts to a controller (or remapping unit).
   *
   * @param sink - receives MSI/MSI-X messages and INTx level changes
   */
  connectInterrupts(sink: InterruptSink): void {
    this.sink = sink;
  }

  /**
   * The BAR with number `index` (a 64-bit BAR answers for its lower number only).
   *
   * @param index - 0-5
   * @returns the BAR, or undefined when not implemented
   */
  bar(index: number): Bar | undefined {
    return this.bars.find((b) => b.index === index);
  }

  /**
   * The handler to map for BAR `index`: the device's handler with the MSI-X table and PBA
   * routed in when they live in that BAR.
   *
   * @param index - BAR number
   * @returns the combined handler
   */
  barHandler(index: number): MmioHandler {
    let h = this.handlers.get(index);
    if (h === undefined) {
      const inner = this.bar(index)?.handler;
      h = this.msix !== undefined ? this.msix.handlerFor(index, inner) : (inner ?? NULL_HANDLER);
      this.handlers.set(index, h);
    }
    return h;
  }

  /**
   * Allocates a capability structure in the PCI-compatible list (0x40-0xFF, DWORD-aligned,
   * PCI Local Bus 3.0 §6.7) and links it at the end: defines the Capability ID and Next Pointer
   * bytes, sets Status.Capabilities List and, for the first one, the Capabilities Pointer. The
   * caller defines the registers of the body (from `offset + 2`).
   *
   * @param id - Capability ID
   * @param length - total length in bytes including the 2-byte header
   * @returns the offset of the capability header
   */
  addCapability(id: number, length: number): number {
    const offset = this.nextCapability;
    if (!Number.isInteger(length) || length < 2 || offset + length > 0x100) {
      throw new PciError(
        'CAPABILITY_SPACE_FULL',
        `no room for a ${length}-byte capability at ${hex(offset)}`,
      );
    }
    const cs = this.config;
    cs.define({ offset, size: 1, value: id & 0xff });
    cs.define({ offset: offset + 1, size: 1 });
    if (this.lastCapability === 0) {
      cs.setResetValue(Type0.CAPABILITIES_POINTER, 1, offset);
      cs.setResetValue(Type0.STATUS, 2, cs.read(Type0.STATUS, 2) | Status.CAPABILITIES_LIST);
    } else {
      cs.setResetValue(this.lastCapability + 1, 1, offset);
    }
    this.lastCapability = offset;
    this.nextCapability = (offset + length + 3) & ~3;
    return offset;
  }

  /**
   * Allocates a PCI Express extended capability (0x100-0xFFF, DWORD-aligned, PCIe Base 4.0 §7.6)
   * and links it: the 32-bit header holds ID (15:0), version (19:16) and next offset (31:20).
   *
   * @param id - Extended Capability ID
   * @param version - Capability Version (4 bits)
   * @param length - total length in bytes including the header
   * @returns the offset of the header
   */
  addExtendedCapability(id: number, version: number, length: number): number {
    const offset = this.nextExtended;
    if (this.config.size !== 4096) {
      throw new PciError('INVALID_CAPABILITY', 'extended capabilities need a PCI Express function');
    }
    if (!Number.isInteger(length) || length < 4 || offset + length > 0x1000) {
      throw new PciError(
        'CAPABILITY_SPACE_FULL',
        `no room for a ${length}-byte extended capability`,
      );
    }
    this.config.define({ offset, size: 4, value: (id & 0xffff) | ((version & 0xf) << 16) });
    if (this.lastExtended !== 0) {
      const prev = this.config.read(this.lastExtended, 4);
      this.config.setResetValue(this.lastExtended, 4, ((prev & 0xfffff) | (offset << 20)) >>> 0);
    }
    this.lastExtended = offset;
    this.nextExtended = (offset + length + 3) & ~3;
    return offset;
  }

  /**
   * Adds an MSI capability (PCI Local Bus 3.0 §6.8.1).
   *
   * @param options - vectors, 64-bit addressing, per-vector masking
   * @returns the capability
   */
  addMsi(options: MsiOptions = {}): MsiCapability {
    const length = msiCapabilityLength(
      options.address64 ?? true,
      options.perVectorMasking ?? false,
    );
    const offset = this.addCapability(CapabilityId.MSI, length);
    this.msi = new MsiCapability(this.config, offset, options, this.sender);
    this.config.onWrite(offset + 2, 2, () => this.updateIntx());
    return this.msi;
  }

  /**
   * Adds an MSI-X capability (PCI Local Bus 3.0 §6.8.2). The table and PBA must lie inside
   * implemented memory BARs and must not overlap each other.
   *
   * @param options - vector count and where the table and PBA live
   * @returns the capability
   */
  addMsix(options: MsixOptions): MsixCapability {
    const tableBar = this.bar(options.tableBar);
    const pbaBar = this.bar(options.pbaBar);
    const tableLength = options.vectors * 16;
    const pbaLength = Math.ceil(options.vectors / 64) * 8;
    if (
      tableBar === undefined ||
      pbaBar === undefined ||
      tableBar.kind === 'io' ||
      pbaBar.kind === 'io' ||
      options.tableOffset + tableLength > tableBar.size ||
      options.pbaOffset + pbaLength > pbaBar.size ||
      (options.tableBar === options.pbaBar &&
        options.tableOffset < options.pbaOffset + pbaLength &&
        options.pbaOffset < options.tableOffset + tableLength)
    ) {
      throw new PciError(
        'INVALID_CAPABILITY',
        'MSI-X table/PBA must fit memory BARs and not overlap',
      );
    }
    const offset = this.addCapability(CapabilityId.MSI_X, MSIX_CAPABILITY_LENGTH);
    this.msix = new MsixCapability(this.config, offset, options, this.sender);
    this.handlers.clear();
    this.config.onWrite(offset + 2, 2, () => this.updateIntx());
    return this.msix;
  }

  /**
   * Adds the PCI Express Capability (PCIe Base 4.0 §7.5.3). Its Initiate FLR bit runs
   * {@link reset}.
   *
   * @param options - port type, payload size, FLR support, link parameters
   * @returns the capability
   */
  addPciExpress(options: PciExpressOptions = {}): PciExpressCapability {
    const offset = this.addCapability(CapabilityId.PCI_EXPRESS, PCIE_CAPABILITY_LENGTH);
    this.pciExpress = new PciExpressCapability(this.config, offset, options);
    this.pciExpress.onFunctionLevelReset = () => this.reset();
    return this.pciExpress;
  }

  /**
   * Adds the ARI Extended Capability (PCIe Base 4.0 §6.13).
   *
   * @param options - Next Function Number and function-group capabilities
   * @returns the capability
   */
  addAri(options: AriOptions): AriCapability {
    const offset = this.addExtendedCapability(ExtendedCapabilityId.ARI, 1, ARI_CAPABILITY_LENGTH);
    this.ari = new AriCapability(this.config, offset, options);
    return this.ari;
  }

  /**
   * The BARs that decode now: Memory (I/O) Space Enable set, and a programmed base that is not
   * 0 and keeps the whole range below 2^52 (2^32 for I/O). Address 0 counts as unassigned.
   */
  decodedBars(): readonly DecodedBar[] {
    return this.decoded;
  }

  /**
   * Runs `listener` whenever the set of decoded BARs changes (a Command or BAR write, a reset).
   *
   * @param listener - receives the new decoded set
   * @returns a function that removes the listener
   */
  onDecodeChange(listener: (bars: readonly DecodedBar[]) => void): () => void {
    this.decodeListeners.add(listener);
    return () => this.decodeListeners.delete(listener);
  }

  /**
   * Runs `listener` after every reset of the function (FLR or {@link reset}).
   *
   * @param listener - called with no arguments
   * @returns a function that removes the listener
   */
  onReset(listener: () => void): () => void {
    this.resetListeners.add(listener);
    return () => this.resetListeners.delete(listener);
  }

  /** Recomputes the decoded BARs and tells the listeners if they changed. */
  refreshDecode(): void {
    const next = this.externalBars?.() ?? this.ownDecodedBars();
    const key = next.map((b) => `${b.index}:${b.kind}:${b.base}:${b.size}`).join(',');
    if (key === this.decodedKey) return;
    this.decoded = next;
    this.decodedKey = key;
    for (const l of [...this.decodeListeners]) l(next);
  }

  /**
   * Signals interrupt vector `vector` the way the function is configured: MSI-X if enabled,
   * else MSI if enabled; with neither, nothing is sent (INTx is level-based, see {@link setIntx}).
   *
   * @param vector - the MSI-X table entry or MSI vector
   * @returns `sent`, `pending` (masked) or `dropped`
   */
  signalInterrupt(vector: number): 'sent' | 'pending' | 'dropped' {
    if (this.msix?.enabled) return this.msix.signal(vector);
    if (this.msi?.enabled) return this.msi.signal(vector);
    return 'dropped';
  }

  /**
   * Sets the level of the function's INTx line as the device sees it. Status.Interrupt Status
   * follows it; the line reaches the sink only while Interrupt Disable is clear and neither MSI
   * nor MSI-X is enabled (PCI Local Bus 3.0 §6.8: a function using MSI must not use INTx).
   *
   * @param asserted - the new level
   */
  setIntx(asserted: boolean): void {
    this.intxLevel = asserted;
    this.config.setBits(Type0.STATUS, 2, Status.INTERRUPT_STATUS, asserted);
    this.updateIntx();
  }

  /**
   * Resets the function: every register returns to its reset value, the MSI-X table is masked,
   * BARs stop decoding, and reset listeners run (PCIe Base 4.0 §6.6.2 Function Level Reset).
   */
  reset(): void {
    this.config.reset();
    this.msix?.reset();
    this.intxLevel = false;
    this.updateIntx();
    this.refreshDecode();
    for (const l of [...this.resetListeners]) l();
  }

  private readonly sender: MessageSender = (addressLow, addressHigh, data) => {
    if (!this.busMasterEnabled) return false;
    this.sink.deliverMsi({ addressLow, addressHigh, data, requesterId: this.rid ?? 0 });
    return true;
  };

  private updateIntx(): void {
    const pin = this.config.read(Type0.INTERRUPT_PIN, 1);
    const disabled = (this.config.read(Type0.COMMAND, 2) & Command.INTERRUPT_DISABLE) !== 0;
    const level =
      pin !== 0 && this.intxLevel && !disabled && !this.msi?.enabled && !this.msix?.enabled;
    if (level === this.intxSignalled) return;
    this.intxSignalled = level;
    this.sink.setIntx(this.rid ?? 0, pin, level);
  }

  private ownDecodedBars(): DecodedBar[] {
    const command = this.config.read(Type0.COMMAND, 2);
    const out: DecodedBar[] = [];
    for (const bar of this.bars) {
      const on = bar.kind === 'io' ? command & Command.IO_SPACE : command & Command.MEMORY_SPACE;
      const base = bar.address;
      const limit = bar.kind === 'io' ? IO_LIMIT : ADDRESS_LIMIT;
      if (!on || base === undefined || base === 0 || base + bar.size > limit) continue;
      out.push({
        index: bar.index,
        kind: bar.kind,
        base,
        size: bar.size,
        handler: this.barHandler(bar.index),
      });
    }
    return out;
  }
}
