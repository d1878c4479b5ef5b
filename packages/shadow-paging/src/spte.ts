// Shadow page-table entry bits: the hardware format of 4-level paging (SDM Vol. 3A Tables
// 4-15..4-20), low half, plus two of the bits hardware ignores (11:9) for the VMM's own use.

/** Present. */
export const P = 1;
/** Read/write. */
export const RW = 2;
/** User/supervisor. */
export const US = 4;
/** Accessed. */
export const A = 0x20;
/** Dirty. */
export const D = 0x40;
/** Global. */
export const G = 0x100;
/** Software bit 9: the guest allows writes (combined R/W, guest D set, not a guest page table). */
export const SW_WRITABLE = 0x200;
/** Software bit 10: made writable by write-fault prediction (Histase's Predict bit). */
export const SW_PREDICT = 0x400;
