import { ExtendedCapabilityId, listExtendedCapabilities, type PciSegment } from '@vmkit/pci';
import { SriovError } from './errors.js';
import { SriovControl, SriovReg } from './registers.js';

/** Where the driver may place VF BAR regions in guest-physical (or host-physical) space. */
export interface MmioWindow {
  /** First address of the window. */
  readonly base: number;
  /** Size in bytes. */
  readonly size: number;
}

/**
 * A PF driver that manages VFs through configuration requests only, the way Linux's PCI core does
 * behind `/sys/bus/pci/devices/.../sriov_numvfs` (drivers/pci/iov.c): writing more than TotalVFs
 * fails with a range error; writing the current count is a no-op; writing a different non-zero
 * count while VFs are enabled fails as busy (disable first); writing 0 disables them.
 *
 * Enabling programs System Page Size (4 KiB), ARI Capable Hierarchy (when asked and owned by this
 * PF), NumVFs, then sizes each VF BAR by the sizing protocol, assigns `NumVFs * aperture` bytes
 * from the MMIO window aligned to the aperture, and sets VF Enable and VF MSE.
 */
export class SriovPfDriver {
  private readonly segment: PciSegment;
  private readonly rid: number;
  private readonly cap: number;
  private readonly window: MmioWindow;
  private readonly ari: boolean;

  /**
   * @param segment - the PF's segment
   * @param rid - the PF's routing ID
   * @param window - MMIO space for the VF BARs
   * @param options - `ariCapableHierarchy`: set the ARI Capable Hierarchy bit before enabling
   */
  constructor(
    segment: PciSegment,
    rid: number,
    window: MmioWindow,
    options: { ariCapableHierarchy?: boolean } = {},
  ) {
    this.segment = segment;
    this.rid = rid;
    this.window = window;
    this.ari = options.ariCapableHierarchy ?? false;
    const found = listExtendedCapabilities((o, s) => segment.configRead(rid, o, s)).find(
      (c) => c.id === ExtendedCapabilityId.SR_IOV,
    );
    if (found === undefined)
      throw new SriovError('NO_CAPABILITY', `function ${rid} has no SR-IOV capability`);
    this.cap = found.offset;
  }

  /** TotalVFs. */
  get totalVfs(): number {
    return this.read(SriovReg.TOTAL_VFS, 2);
  }

  /** VFs currently enabled (0 when VF Enable is Clear). */
  get numVfs(): number {
    return this.read(SriovReg.CONTROL, 2) & SriovControl.VF_ENABLE
      ? this.read(SriovReg.NUM_VFS, 2)
      : 0;
  }

  /**
   * The `sriov_numvfs` store.
   *
   * @param n - requested VF count
   * @returns the VF routing IDs now enabled
   */
  setNumVfs(n: number): number[] {
    if (!Number.isInteger(n) || n < 0 || n > this.totalVfs) {
      throw new SriovError('RANGE', `${n} VFs requested, TotalVFs is ${this.totalVfs}`);
    }
    const current = this.numVfs;
    if (n === current) return this.vfRoutingIds(current);
    if (n === 0) {
      this.disable();
      return [];
    }
    if (current !== 0) {
      throw new SriovError(
        'BUSY',
        `${current} VFs already enabled; disable before enabling ${n} VFs`,
      );
    }
    this.enable(n);
    return this.vfRoutingIds(n);
  }

  /**
   * The routing IDs of VFs 1..n from First VF Offset and VF Stride as the PF reports them now.
   *
   * @param n - VF count
   * @returns the routing IDs
   */
  vfRoutingIds(n: number): number[] {
    const offset = this.read(SriovReg.FIRST_VF_OFFSET, 2);
    const stride = this.read(SriovReg.VF_STRIDE, 2);
    return Array.from({ length: n }, (_, k) => this.rid + offset + k * stride);
  }

  private enable(n: number): void {
    let control = this.read(SriovReg.CONTROL, 2);
    if (this.ari) {
      this.write(SriovReg.CONTROL, 2, control | SriovControl.ARI_CAPABLE_HIERARCHY);
      control = this.read(SriovReg.CONTROL, 2);
    }
    this.write(SriovReg.SYSTEM_PAGE_SIZE, 4, 1);
    this.write(SriovReg.NUM_VFS, 2, n);
    let next = this.window.base;
    for (let i = 0; i < 6; i++) {
      const off = SriovReg.VF_BAR0 + 4 * i;
      const low = this.read(off, 4);
      if (low === 0) continue;
      const is64 = (low & 0x6) === 0x4;
      this.write(off, 4, 0xffff_ffff);
      let mask = BigInt((this.read(off, 4) & 0xffff_fff0) >>> 0);
      if (is64) {
        this.write(off + 4, 4, 0xffff_ffff);
        mask |= BigInt(this.read(off + 4, 4)) << 32n;
      } else {
        mask |= 0xffff_ffff_0000_0000n;
      }
      const aperture = Number((~mask & 0xffff_ffff_ffff_ffffn) + 1n);
      if (aperture === 0 || mask === 0n) continue;
      const base = Math.ceil(next / aperture) * aperture;
      if (base + aperture * n > this.window.base + this.window.size) {
        throw new SriovError('NO_RESOURCES', `VF BAR${i} needs ${aperture * n} bytes`);
      }
      this.write(off, 4, base % 2 ** 32);
      if (is64) this.write(off + 4, 4, Math.floor(base / 2 ** 32));
      next = base + aperture * n;
      if (is64) i++;
    }
    this.write(SriovReg.CONTROL, 2, control | SriovControl.VF_ENABLE | SriovControl.VF_MSE);
  }

  private disable(): void {
    const control = this.read(SriovReg.CONTROL, 2);
    this.write(SriovReg.CONTROL, 2, control & ~(SriovControl.VF_ENABLE | SriovControl.VF_MSE));
    this.write(SriovReg.NUM_VFS, 2, 0);
  }

  private read(reg: number, size: 1 | 2 | 4): number {
    return this.segment.configRead(this.rid, this.cap + reg, size);
  }

  private write(reg: number, size: 1 | 2 | 4, value: number): void {
    this.segment.configWrite(this.rid, this.cap + reg, size, value);
  }
}
