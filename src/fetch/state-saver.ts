import type { PartialState } from '../cache/partial.js';

const SAVE_INTERVAL_MS = 1000;
/**
 * A kill -9 loses what was received since the last save: at most ~5 % of the object or 8 MiB,
 * whichever is larger. Saved at a quarter of that, by bytes as well as by time (a fast link brings
 * far more than 8 MiB a second): the rest covers what is received but not yet written (up to two
 * batches of 512 KiB per connection, segment-writer.ts: one being written, one gathering) and a
 * save that falls behind the writes on a loaded machine.
 */
const LOSS_FLOOR_BYTES = 8 * 1024 * 1024;
const LOSS_FRACTION = 0.05;

export interface StateSaverOptions {
  /** Writes the state (PartialFiles.save); a failed save is dropped, the next one tries again. */
  write: (state: PartialState) => Promise<void>;
  /** The download's state as it is now: read when a save runs, not when it is asked for. */
  state: () => PartialState;
  /** The object's size as known now, which bounds what a kill may lose. */
  size: () => number | undefined;
  intervalMs?: number; // SAVE_INTERVAL_MS
}

/**
 * When a download's partial state (its spans, validators and size) is written: at its first
 * answer, then a second after bytes were written or at once when a quarter of the loss bound is
 * unsaved, and when the download stops. Saves are chained, so an older state never lands after a
 * newer one, and one waiting to start stands for any asked meanwhile.
 */
export class StateSaver {
  readonly #options: StateSaverOptions;
  #timer: NodeJS.Timeout | undefined;
  #saving: Promise<void> = Promise.resolve();
  #queued = false;
  /** Bytes written since the state was last saved; undefined until the first save. */
  #unsaved: number | undefined;

  constructor(options: StateSaverOptions) {
    this.#options = options;
  }

  /** An answer came: saved at once the first time, so that a kill in the first second keeps the validators. */
  answered(): void {
    if (this.#unsaved === undefined) void this.save();
  }

  /** `bytes` more are written to the partial file. */
  written(bytes: number): void {
    this.#unsaved = (this.#unsaved ?? 0) + bytes;
    const budget = Math.max(LOSS_FLOOR_BYTES, LOSS_FRACTION * (this.#options.size() ?? 0));
    if (this.#unsaved < budget / 4) return this.#schedule();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.save();
  }

  /** Saves the state as it will be when the save runs; resolves when it has landed (or failed). */
  save(): Promise<void> {
    if (this.#queued) return this.#saving;
    this.#queued = true;
    this.#saving = this.#saving
      .then(() => {
        this.#queued = false;
        this.#unsaved = 0;
        return this.#options.write(this.#options.state());
      })
      .catch(() => {});
    return this.#saving;
  }

  /** No save is scheduled after this; resolves when the one running has landed. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#saving;
  }

  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.save();
    }, this.#options.intervalMs ?? SAVE_INTERVAL_MS);
    this.#timer.unref();
  }
}
