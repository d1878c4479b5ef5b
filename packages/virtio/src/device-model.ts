import type { GuestMemory } from '@vmkit/memory';
import type { VirtioError } from './errors.js';
import type { Virtqueue } from './virtqueue.js';
import type { WorkMeter } from './work-meter.js';

/**
 * What a virtio device type (net, blk, ...) implements. It knows nothing of the transport (MMIO
 * or PCI) nor of the VMM: {@link VirtioDevice} runs the status machine and the queues around it,
 * and hands it a {@link DeviceContext} at DRIVER_OK.
 */
export interface VirtioDeviceModel {
  /** The virtio device ID (§5), e.g. 1 for net, 2 for block. */
  readonly deviceId: number;
  /** Device-type feature bits offered (bits 0-23 and 50+); transport bits are added for it. */
  readonly features: bigint;
  /** Maximum size of each queue; the length of the array is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Size in bytes of the device-specific configuration space. */
  readonly configSize: number;
  /**
   * Reads the device-specific configuration space (little-endian, §2.5).
   *
   * @param offset - byte offset, `offset + size <= configSize`
   * @param size - access width in bytes
   * @returns the value read
   */
  readConfig(offset: number, size: 1 | 2 | 4): number;
  /**
   * Writes the device-specific configuration space; read-only fields ignore writes.
   *
   * @param offset - byte offset, `offset + size <= configSize`
   * @param size - access width in bytes
   * @param value - the value written
   */
  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void;
  /**
   * Checks the feature set the driver accepted when it sets FEATURES_OK (§2.2, dependencies
   * between device-type features). Returning false leaves FEATURES_OK clear.
   */
  acceptFeatures?(features: bigint): boolean;
  /** Called when the driver sets DRIVER_OK; the queues are live from now on. */
  activate(context: DeviceContext): void;
  /** Available buffer notification for queue `index` (§2.9). */
  notify(index: number): void;
  /** Device reset (§2.4): forget everything negotiated and in flight. */
  reset(): void;
  /** The model's own state for a snapshot (plain, JSON-encodable data), if it has any. */
  save?(): unknown;
  /** Restores {@link VirtioDeviceModel.save}'s state; called after `activate` when live. */
  restore?(state: unknown): void;
}

/** What a device model may do once it is live. */
export interface DeviceContext {
  /** The negotiated features. */
  readonly features: bigint;
  /** Guest memory. */
  readonly memory: GuestMemory;
  /** Where the model reports its copy work. */
  readonly meter: WorkMeter;
  /** The live queue at `index`, or `undefined` if the driver did not enable it. */
  queue(index: number): Virtqueue | undefined;
  /**
   * Sends a used buffer notification for queue `index` if the driver wants one (the queue's
   * `needsNotification` decides).
   */
  notifyUsed(index: number): void;
  /** The device configuration changed: new generation, configuration change notification. */
  configChanged(): void;
  /** Enters the error state: DEVICE_NEEDS_RESET and a configuration change notification. */
  fail(error: VirtioError): void;
}
