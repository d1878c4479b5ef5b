import { CountingWorkMeter, type WorkMeter } from './work-meter.js';

/**
 * How backend work is spread over host threads, the parameter seed 003 varies for its PV NIC:
 * one thread for every queue of every device (`single`, Xen's original netback), one per device
 * (`per-device`, i.e. per VM), or one per queue (`per-queue`).
 */
export type BackendThreading = 'single' | 'per-device' | 'per-queue';

/** One backend worker (host thread) and the meter its work is charged to. */
export interface BackendWorker {
  /** `backend`, `<device>` or `<device>/q<queue>` depending on the threading model. */
  readonly name: string;
  /** Where the worker's copies and chains are counted. */
  readonly meter: WorkMeter;
}

/**
 * Assigns device queues to backend workers by a {@link BackendThreading} model and gives each
 * worker its own {@link WorkMeter}, so copy work is accounted per worker. JavaScript runs the
 * device code on one thread either way; a simulator turns each worker's meter into simulated CPU
 * time on its own simulated core (pass a `createMeter` that charges a cost model).
 *
 * @example
 * ```ts
 * const workers = new BackendWorkers('per-queue');
 * const dev = new VirtioDevice(net, mem, { queueMeter: workers.forDevice('vm1') });
 * // ... run traffic ...
 * workers.list().map((w) => [w.name, (w.meter as CountingWorkMeter).bytes]);
 * ```
 */
export class BackendWorkers {
  /** The threading model. */
  readonly threading: BackendThreading;
  private readonly createMeter: (name: string) => WorkMeter;
  private readonly workers = new Map<string, BackendWorker>();

  /**
   * @param threading - how queues map to workers
   * @param createMeter - makes the meter of a new worker (default: a {@link CountingWorkMeter})
   */
  constructor(threading: BackendThreading, createMeter?: (name: string) => WorkMeter) {
    this.threading = threading;
    this.createMeter = createMeter ?? (() => new CountingWorkMeter());
  }

  /**
   * The worker that serves queue `queue` of device `device`.
   *
   * @param device - a name unique per device (e.g. the VM's name)
   * @param queue - the queue index
   * @returns the worker, created on first use
   */
  workerFor(device: string, queue: number): BackendWorker {
    const name =
      this.threading === 'single'
        ? 'backend'
        : this.threading === 'per-device'
          ? device
          : `${device}/q${queue}`;
    let worker = this.workers.get(name);
    if (worker === undefined) {
      worker = { name, meter: this.createMeter(name) };
      this.workers.set(name, worker);
    }
    return worker;
  }

  /**
   * A per-queue meter function for {@link VirtioDeviceOptions.queueMeter}.
   *
   * @param device - the device's unique name
   * @returns queue index to that queue's worker meter
   */
  forDevice(device: string): (queue: number) => WorkMeter {
    return (queue) => this.workerFor(device, queue).meter;
  }

  /** The workers created so far, in creation order. */
  list(): readonly BackendWorker[] {
    return [...this.workers.values()];
  }
}
