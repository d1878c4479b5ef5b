import type { AccessSize, MmioHandler } from '@vmkit/memory';
import { encodeFaultRecord } from './fault-log.js';
import type { InterruptMessage } from './interrupt-remapping.js';
import type { Iommu } from './iommu.js';

/** Register offsets of a remapping unit (VT-d spec, "Register Descriptions"). */
export const VtdReg = {
  /** Version (32). */
  VER: 0x000,
  /** Capability (64). */
  CAP: 0x008,
  /** Extended Capability (64). */
  ECAP: 0x010,
  /** Global Command (32, write). */
  GCMD: 0x018,
  /** Global Status (32, read). */
  GSTS: 0x01c,
  /** Root Table Address (64). */
  RTADDR: 0x020,
  /** Context Command (64). */
  CCMD: 0x028,
  /** Fault Status (32). */
  FSTS: 0x034,
  /** Fault Event Control (32). */
  FECTL: 0x038,
  /** Fault Event Data (32). */
  FEDATA: 0x03c,
  /** Fault Event Address (32). */
  FEADDR: 0x040,
  /** Fault Event Upper Address (32). */
  FEUADDR: 0x044,
  /** Interrupt Remapping Table Address (64). */
  IRTA: 0x0b8,
  /** Invalidate Address (64), at IRO * 16 (IRO = 10h here). */
  IVA: 0x100,
  /** IOTLB Invalidate (64), IVA + 8. */
  IOTLB: 0x108,
  /** First Fault Recording Register (128 each), at FRO * 16 (FRO = 20h here). */
  FRCD: 0x200,
} as const;

/** Global Command / Global Status bits (VT-d spec, GCMD_REG / GSTS_REG). */
export const GlobalBits = {
  /** TE / TES: translation enable. */
  TE: 1 << 31,
  /** SRTP / RTPS: set root table pointer. */
  SRTP: 1 << 30,
  /** IRE / IRES: interrupt remapping enable. */
  IRE: 1 << 25,
  /** SIRTP / IRTPS: set interrupt remap table pointer. */
  SIRTP: 1 << 24,
  /** CFI / CFIS: compatibility format interrupts. */
  CFI: 1 << 23,
} as const;

/** Fault Event Control bits: IM (31) interrupt mask, IP (30) interrupt pending. */
const FECTL_IM = 1 << 31;
const FECTL_IP = 1 << 30;

/**
 * The memory-mapped register interface of a remapping unit, over an {@link Iommu}: what a guest
 * or host IOMMU driver programs (VT-d spec, "Register Descriptions"). 4 KiB; map it at the DRHD
 * base with `addMmio`. Implemented: VER (1.0), CAP (ND 16-bit domains, SAGAW, MGAW, FRO, SLLPS,
 * PSI, NFR, MAMV), ECAP (IR, EIM, PT, IRO; no queued invalidation, device-TLBs or snoop control),
 * GCMD/GSTS (TE, SRTP, IRE, SIRTP, CFI, one command per write as the spec requires software to
 * issue them), RTADDR (legacy mode), CCMD (global / domain / device invalidation; ICC clears and
 * CAIG reports the granularity performed), IVA + IOTLB (global / domain / page-selective with AM;
 * IVT clears, IAIG reports), FSTS (PFO RW1C, PPF, FRI), FECTL/FEDATA/FEADDR/FEUADDR with the fault
 * event interrupt (sent when PPF goes 0 -> 1 or PFO is set, unless IM, else IP until IM clears), IRTA (S, EIME)
 * and the Fault Recording Registers (F bit RW1C).
 */
export class VtdRegisters implements MmioHandler {
  /** Size of the register window. */
  readonly size = 0x1000;
  private readonly unit: Iommu;
  private gsts = 0;
  private rtaddr = 0n;
  private irta = 0n;
  private ccmd = 0n;
  private iva = 0n;
  private iotlb = 0n;
  private fectl = FECTL_IM;
  private fedata = 0;
  private feaddr = 0;
  private feuaddr = 0;
  private readonly sendFaultEvent: (m: InterruptMessage) => void;

  /**
   * @param unit - the remapping unit behind the registers
   * @param sendFaultEvent - delivers the fault-event MSI (to the APIC bus)
   */
  constructor(unit: Iommu, sendFaultEvent: (m: InterruptMessage) => void = () => {}) {
    this.unit = unit;
    this.sendFaultEvent = sendFaultEvent;
    const previous = unit.dma.faults.onFaultEvent;
    unit.dma.faults.onFaultEvent = (r, recorded, before) => {
      previous(r, recorded, before);
      // A fault event is generated when PPF goes from 0 to 1 or PFO becomes set (VT-d §7.3).
      const after = unit.dma.faults.status;
      if ((~before & after & 3) !== 0) this.faultEvent();
    };
  }

  /** CAP_REG (VT-d spec, Capability Register). */
  get capability(): bigint {
    const caps = this.unit.dma.caps;
    const sagaw =
      (caps.sagaw.includes(39) ? 2 : 0) |
      (caps.sagaw.includes(48) ? 4 : 0) |
      (caps.sagaw.includes(57) ? 8 : 0);
    const sllps = (caps.pages2M ? 1 : 0) | (caps.pages1G ? 2 : 0);
    const nfr = this.unit.dma.faults.size - 1;
    return (
      6n | // ND = 110b: 16-bit domain IDs
      (BigInt(sagaw) << 8n) |
      (BigInt(caps.mgaw - 1) << 16n) |
      (BigInt(VtdReg.FRCD / 16) << 24n) |
      (BigInt(sllps) << 34n) |
      (1n << 39n) | // PSI: page-selective invalidation
      (BigInt(nfr) << 40n) |
      (40n << 48n) // MAMV
    );
  }

  /** ECAP_REG (VT-d spec, Extended Capability Register). */
  get extendedCapability(): bigint {
    return (
      (1n << 3n) | // IR
      (1n << 4n) | // EIM
      ((this.unit.dma.caps.passThrough ? 1n : 0n) << 6n) | // PT
      (BigInt(VtdReg.IVA / 16) << 8n) // IRO
    );
  }

  read(offset: number, size: AccessSize): bigint {
    if (size === 8) return this.read64(offset);
    const q = this.read64(offset & ~7);
    const shift = BigInt(8 * (offset & 7));
    return (q >> shift) & ((1n << BigInt(8 * size)) - 1n);
  }

  write(offset: number, size: AccessSize, value: bigint): void {
    if (size === 8) return this.write64(offset, BigInt.asUintN(64, value));
    if (size !== 4 || (offset & 3) !== 0) return; // registers take DWORD and QWORD accesses
    const v = Number(value & 0xffff_ffffn);
    if (offset % 8 === 4 && this.isQword(offset - 4)) {
      // Upper half of a 64-bit register: merge and apply.
      const low = this.read64(offset - 4) & 0xffff_ffffn;
      this.write64(offset - 4, (BigInt(v) << 32n) | low, true);
      return;
    }
    if (this.isQword(offset)) {
      const high = this.read64(offset) & 0xffff_ffff_0000_0000n;
      this.write64(offset, high | BigInt(v), false);
      return;
    }
    this.write32(offset, v);
  }

  private isQword(offset: number): boolean {
    return (
      offset === VtdReg.RTADDR ||
      offset === VtdReg.CCMD ||
      offset === VtdReg.IRTA ||
      offset === VtdReg.IVA ||
      offset === VtdReg.IOTLB ||
      (offset >= VtdReg.FRCD && offset < VtdReg.FRCD + 16 * this.unit.dma.faults.size)
    );
  }

  private read64(offset: number): bigint {
    const lo = (o: number) => BigInt(this.read32(o) >>> 0);
    switch (offset) {
      case VtdReg.CAP:
        return this.capability;
      case VtdReg.ECAP:
        return this.extendedCapability;
      case VtdReg.RTADDR:
        return this.rtaddr;
      case VtdReg.CCMD:
        return this.ccmd;
      case VtdReg.IRTA:
        return this.irta;
      case VtdReg.IVA:
        return this.iva;
      case VtdReg.IOTLB:
        return this.iotlb;
      default:
        if (offset >= VtdReg.FRCD && offset < VtdReg.FRCD + 16 * this.unit.dma.faults.size) {
          const n = Math.floor((offset - VtdReg.FRCD) / 16);
          const rec = this.unit.dma.faults.at(n);
          const v = rec === undefined ? 0n : encodeFaultRecord(rec);
          return (offset - VtdReg.FRCD) % 16 === 0 ? v & 0xffff_ffff_ffff_ffffn : v >> 64n;
        }
        return lo(offset) | (lo(offset + 4) << 32n);
    }
  }

  private read32(offset: number): number {
    switch (offset) {
      case VtdReg.VER:
        return 0x10;
      case VtdReg.GSTS:
        return this.gsts;
      case VtdReg.FSTS:
        return this.unit.dma.faults.status;
      case VtdReg.FECTL:
        return this.fectl;
      case VtdReg.FEDATA:
        return this.fedata;
      case VtdReg.FEADDR:
        return this.feaddr;
      case VtdReg.FEUADDR:
        return this.feuaddr;
      default:
        return 0;
    }
  }

  private write32(offset: number, v: number): void {
    switch (offset) {
      case VtdReg.GCMD:
        return this.globalCommand(v);
      case VtdReg.FSTS:
        if (v & 1) this.unit.dma.faults.clearOverflow();
        return;
      case VtdReg.FECTL:
        this.fectl = (v & FECTL_IM) | (this.fectl & FECTL_IP);
        if ((this.fectl & FECTL_IM) === 0 && this.fectl & FECTL_IP) this.fire();
        return;
      case VtdReg.FEDATA:
        this.fedata = v & 0xffff;
        return;
      case VtdReg.FEADDR:
        this.feaddr = (v & 0xffff_fffc) >>> 0;
        return;
      case VtdReg.FEUADDR:
        this.feuaddr = v;
        return;
    }
  }

  private write64(offset: number, v: bigint, upperHalf = true): void {
    switch (offset) {
      case VtdReg.RTADDR:
        this.rtaddr = v & 0xffff_ffff_ffff_f000n; // TTM (11:10) = 00b legacy only
        return;
      case VtdReg.IRTA:
        this.irta = v & 0xffff_ffff_ffff_f80fn;
        return;
      case VtdReg.CCMD:
        this.ccmd = v;
        if (upperHalf && v >> 63n) this.contextCommand(v);
        return;
      case VtdReg.IVA:
        this.iva = v & 0xffff_ffff_ffff_f07fn;
        return;
      case VtdReg.IOTLB:
        this.iotlb = v;
        if (upperHalf && v >> 63n) this.iotlbCommand(v);
        return;
      default:
        if (offset >= VtdReg.FRCD && (offset - VtdReg.FRCD) % 16 === 8 && upperHalf && v >> 63n) {
          // Writing 1 to F (bit 127) clears the record (RW1CS).
          this.unit.dma.faults.clear((offset - VtdReg.FRCD - 8) / 16);
        }
    }
  }

  /** GCMD: each write carries the persistent bits plus at most one command (VT-d, GCMD_REG). */
  private globalCommand(v: number): void {
    const dma = this.unit.dma;
    const ir = this.unit.interrupts;
    if (v & GlobalBits.SRTP) {
      dma.setRootTable(Number(this.rtaddr));
      this.gsts |= GlobalBits.SRTP;
    }
    if (v & GlobalBits.SIRTP) {
      ir.setTable({
        address: Number(this.irta & 0xffff_ffff_ffff_f000n),
        sizeField: Number(this.irta & 0xfn),
        extendedInterruptMode: (this.irta & 0x800n) !== 0n,
      });
      this.gsts |= GlobalBits.SIRTP;
    }
    dma.translationEnabled = (v & GlobalBits.TE) !== 0 && (this.gsts & GlobalBits.SRTP) !== 0;
    ir.remappingEnabled = (v & GlobalBits.IRE) !== 0 && (this.gsts & GlobalBits.SIRTP) !== 0;
    ir.compatibilityFormatAllowed = (v & GlobalBits.CFI) !== 0;
    this.gsts =
      (this.gsts & (GlobalBits.SRTP | GlobalBits.SIRTP)) |
      (dma.translationEnabled ? GlobalBits.TE : 0) |
      (ir.remappingEnabled ? GlobalBits.IRE : 0) |
      (ir.compatibilityFormatAllowed ? GlobalBits.CFI : 0);
  }

  /** CCMD: CIRG 62:61 (01b global, 10b domain, 11b device), FM 33:32, SID 31:16, DID 15:0. */
  private contextCommand(v: bigint): void {
    const cirg = Number((v >> 61n) & 3n);
    const did = Number(v & 0xffffn);
    const sid = Number((v >> 16n) & 0xffffn);
    const fm = Number((v >> 32n) & 3n) as 0 | 1 | 2 | 3;
    if (cirg === 1) this.unit.dma.invalidateContextCache({ granularity: 'global' });
    else if (cirg === 2)
      this.unit.dma.invalidateContextCache({ granularity: 'domain', domainId: did });
    else if (cirg === 3) {
      this.unit.dma.invalidateContextCache({
        granularity: 'device',
        domainId: did,
        sourceId: sid,
        functionMask: fm,
      });
    }
    // ICC clears when done; CAIG (60:59) reports the granularity performed.
    this.ccmd = (v & ~(1n << 63n) & ~(3n << 59n)) | (BigInt(cirg) << 59n);
  }

  /** IOTLB_REG: IIRG 61:60 (01b global, 10b domain, 11b page), DID 47:32; IVA holds ADDR and AM. */
  private iotlbCommand(v: bigint): void {
    const iirg = Number((v >> 60n) & 3n);
    const did = Number((v >> 32n) & 0xffffn);
    if (iirg === 1) this.unit.dma.invalidateIotlb({ granularity: 'global' });
    else if (iirg === 2) this.unit.dma.invalidateIotlb({ granularity: 'domain', domainId: did });
    else if (iirg === 3) {
      this.unit.dma.invalidateIotlb({
        granularity: 'page',
        domainId: did,
        address: Number(this.iva & 0xffff_ffff_ffff_f000n),
        addressMask: Number(this.iva & 0x3fn),
      });
    }
    // IVT clears when done; IAIG (58:57) reports the granularity performed.
    this.iotlb = (v & ~(1n << 63n) & ~(3n << 57n)) | (BigInt(iirg) << 57n);
  }

  private faultEvent(): void {
    if (this.fectl & FECTL_IM) this.fectl |= FECTL_IP;
    else this.fire();
  }

  private fire(): void {
    this.fectl &= ~FECTL_IP;
    this.sendFaultEvent({
      addressLow: this.feaddr,
      addressHigh: this.feuaddr,
      data: this.fedata,
      requesterId: 0,
    });
  }
}
