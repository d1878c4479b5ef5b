/**
 * Layout tables transcribed by hand from the virtio 1.2 specification text, used as the oracle
 * for byte-exact tests. They are deliberately written out, not computed from src/.
 */

/** §2.7 table: alignment and size of each split-ring part for Queue Size q. */
export const SPLIT_PARTS = [
  { part: 'descTable', alignment: 16, size: (q: number) => 16 * q },
  { part: 'availRing', alignment: 2, size: (q: number) => 6 + 2 * q },
  { part: 'usedRing', alignment: 4, size: (q: number) => 6 + 8 * q },
] as const;

/** §2.7.5 struct virtq_desc: field, byte offset, width. */
export const VIRTQ_DESC = [
  ['addr', 0, 8],
  ['len', 8, 4],
  ['flags', 12, 2],
  ['next', 14, 2],
] as const;

/** §2.7.6 struct virtq_avail for Queue Size q. */
export const VIRTQ_AVAIL = (q: number) =>
  ({ flags: 0, idx: 2, ring: (i: number) => 4 + 2 * i, used_event: 4 + 2 * q }) as const;

/** §2.7.8 struct virtq_used and struct virtq_used_elem for Queue Size q. */
export const VIRTQ_USED = (q: number) =>
  ({
    flags: 0,
    idx: 2,
    ringId: (i: number) => 4 + 8 * i,
    ringLen: (i: number) => 8 + 8 * i,
    avail_event: 4 + 8 * q,
  }) as const;

/** §2.7.5 flag values; §2.7.6 and §2.7.8 ring flag values. */
export const FLAGS = { NEXT: 1, WRITE: 2, INDIRECT: 4, NO_INTERRUPT: 1, NO_NOTIFY: 1 } as const;

/** §2.1 device status bits. */
export const STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** §6 reserved feature bits. */
export const FEATURE_BITS = {
  INDIRECT_DESC: 28,
  EVENT_IDX: 29,
  VERSION_1: 32,
  ACCESS_PLATFORM: 33,
  RING_PACKED: 34,
  IN_ORDER: 35,
  ORDER_PLATFORM: 36,
  SR_IOV: 37,
  NOTIFICATION_DATA: 38,
  NOTIF_CONFIG_DATA: 39,
  RING_RESET: 40,
} as const;

/** §4.2.2 MMIO device register layout (version 2): name, offset, direction. */
export const MMIO_REGISTERS = [
  ['MagicValue', 0x000, 'R'],
  ['Version', 0x004, 'R'],
  ['DeviceID', 0x008, 'R'],
  ['VendorID', 0x00c, 'R'],
  ['DeviceFeatures', 0x010, 'R'],
  ['DeviceFeaturesSel', 0x014, 'W'],
  ['DriverFeatures', 0x020, 'W'],
  ['DriverFeaturesSel', 0x024, 'W'],
  ['QueueSel', 0x030, 'W'],
  ['QueueNumMax', 0x034, 'R'],
  ['QueueNum', 0x038, 'W'],
  ['QueueReady', 0x044, 'RW'],
  ['QueueNotify', 0x050, 'W'],
  ['InterruptStatus', 0x060, 'R'],
  ['InterruptACK', 0x064, 'W'],
  ['Status', 0x070, 'RW'],
  ['QueueDescLow', 0x080, 'W'],
  ['QueueDescHigh', 0x084, 'W'],
  ['QueueDriverLow', 0x090, 'W'],
  ['QueueDriverHigh', 0x094, 'W'],
  ['QueueDeviceLow', 0x0a0, 'W'],
  ['QueueDeviceHigh', 0x0a4, 'W'],
  ['SHMSel', 0x0ac, 'W'],
  ['SHMLenLow', 0x0b0, 'R'],
  ['SHMLenHigh', 0x0b4, 'R'],
  ['SHMBaseLow', 0x0b8, 'R'],
  ['SHMBaseHigh', 0x0bc, 'R'],
  ['QueueReset', 0x0c0, 'RW'],
  ['ConfigGeneration', 0x0fc, 'R'],
  ['Config', 0x100, 'RW'],
] as const;

/** §2.8 Structure Size and Alignment table for Queue Size q. */
export const PACKED_PARTS = [
  { part: 'descRing', alignment: 16, size: (q: number) => 16 * q },
  { part: 'deviceEvent', alignment: 4, size: () => 4 },
  { part: 'driverEvent', alignment: 4, size: () => 4 },
] as const;

/** §2.8.12 struct pvirtq_desc: field, offset, width. */
export const PVIRTQ_DESC = [
  ['addr', 0, 8],
  ['len', 8, 4],
  ['id', 12, 2],
  ['flags', 14, 2],
] as const;

/** §2.8.1 and §2.8.10 flag values. */
export const PACKED_FLAGS = { AVAIL: 0x80, USED: 0x8000, ENABLE: 0, DISABLE: 1, DESC: 2 } as const;
