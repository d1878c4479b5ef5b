// The linear memory of a vCPU with an MMIO window: while the VMM emulates one instruction that
// exited on an access to a device region (an EPT violation, or a shadow fault on a frame with
// no RAM behind it), the accesses that instruction makes to that one linear page go to the
// guest-physical address the guest's own page tables gave, on guest-physical memory, which
// routes them to the device's MmioHandler. Every other access translates as usual. This is how
// the VMM emulates an MMIO access without an instruction decoder of its own: the CPU re-runs
// the instruction and only its data path is redirected.
import {
  CpuFault,
  MmuMemory,
  type MmuMemoryOptions,
  type Privilege,
  type Translator,
} from '@vmkit/cpu';
import { type GuestMemory, GuestMemoryError } from '@vmkit/memory';

const PAGE = 4096;
/** #MC, SDM Vol. 3A Table 6-1: what the bare machine model raises for memory that does not answer. */
const MC = 18;

/** The VMM's handle on a vCPU's MMIO window (what the exit handler uses). */
export interface MmioWindow {
  /**
   * Opens the window: accesses to the linear page of `linear` go to the guest-physical page of
   * `gpa` until {@link MmioWindow.closeMmio}.
   *
   * @param linear - the linear address the instruction accessed
   * @param gpa - the guest-physical address the guest's page tables translate it to
   */
  openMmio(linear: number, gpa: number): void;
  /** Closes the window. */
  closeMmio(): void;
}

/** A vCPU's linear memory that can open a one-page MMIO window for one emulated instruction. */
export class MmioWindowMemory<T extends Translator = Translator>
  extends MmuMemory<T>
  implements MmioWindow
{
  private windowPage = -1;
  private windowGpa = 0;

  /**
   * @param mmu - the MMU hardware (translations outside the window)
   * @param host - the memory translated addresses go to
   * @param devices - guest-physical memory with the device regions (what the window reaches)
   * @param options - where RFLAGS.AC comes from
   */
  constructor(
    mmu: T,
    host: GuestMemory,
    private readonly devices: GuestMemory,
    options: MmuMemoryOptions = {},
  ) {
    super(mmu, host, options);
  }

  /**
   * Opens the window: accesses to the linear page of `linear` go to the guest-physical page of
   * `gpa` until {@link MmioWindowMemory.closeMmio}.
   *
   * @param linear - the linear address the instruction accessed
   * @param gpa - the guest-physical address the guest's page tables translate it to
   */
  openMmio(linear: number, gpa: number): void {
    this.windowPage = Math.floor(linear / PAGE);
    this.windowGpa = Math.floor(gpa / PAGE) * PAGE;
  }

  /** Closes the window. */
  closeMmio(): void {
    this.windowPage = -1;
  }

  /** The guest-physical address of an access inside the window, or -1. */
  private inWindow(linear: number, size: number): number {
    if (this.windowPage < 0) return -1;
    const offset = linear - this.windowPage * PAGE;
    // An access that crosses out of the page is not redirected: it exits again, and the VMM
    // refuses it (see the exit handler).
    if (offset < 0 || offset + size > PAGE) return -1;
    return this.windowGpa + offset;
  }

  /** `CpuMemory.checkWrite`: an access inside the window goes to the device (nothing to check). */
  override checkWrite(linear: number, size: number, cpl: Privilege): void {
    if (this.inWindow(linear, size) < 0) super.checkWrite(linear, size, cpl);
  }
  override read8(linear: number, cpl: Privilege): number {
    const gpa = this.inWindow(linear, 1);
    return gpa < 0 ? super.read8(linear, cpl) : device(() => this.devices.read8(gpa));
  }
  override read16(linear: number, cpl: Privilege): number {
    const gpa = this.inWindow(linear, 2);
    return gpa < 0 ? super.read16(linear, cpl) : device(() => this.devices.read16(gpa));
  }
  override read32(linear: number, cpl: Privilege): number {
    const gpa = this.inWindow(linear, 4);
    return gpa < 0 ? super.read32(linear, cpl) : device(() => this.devices.read32(gpa));
  }
  override write8(linear: number, value: number, cpl: Privilege): void {
    const gpa = this.inWindow(linear, 1);
    if (gpa < 0) super.write8(linear, value, cpl);
    else device(() => this.devices.write8(gpa, value & 0xff));
  }
  override write16(linear: number, value: number, cpl: Privilege): void {
    const gpa = this.inWindow(linear, 2);
    if (gpa < 0) super.write16(linear, value, cpl);
    else device(() => this.devices.write16(gpa, value & 0xffff));
  }
  override write32(linear: number, value: number, cpl: Privilege): void {
    const gpa = this.inWindow(linear, 4);
    if (gpa < 0) super.write32(linear, value, cpl);
    else device(() => this.devices.write32(gpa, value >>> 0));
  }
  override write64(linear: number, lo: number, hi: number, cpl: Privilege): void {
    const gpa = this.inWindow(linear, 8);
    if (gpa < 0) super.write64(linear, lo, hi, cpl);
    else device(() => this.devices.write64(gpa, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)));
  }
}

/** A device access; a region that refuses it (e.g. out of its bounds) is a machine check. */
function device<R>(access: () => R): R {
  try {
    return access();
  } catch (e) {
    if (e instanceof GuestMemoryError) throw new CpuFault(MC);
    throw e;
  }
}
