import { delay } from './delay.js';

/**
 * A token bucket shared by every request of a run: `--limit-rate` caps the sum, as curl's and rclone's
 * do. The burst is a quarter second of the rate so a cap reads smoothly in progress output.
 */
export class RateLimiter {
  readonly bytesPerSecond: number;
  #tokens: number;
  #capacity: number;
  #last: number;
  #now: () => number;

  constructor(bytesPerSecond: number, now: () => number = () => performance.now()) {
    this.bytesPerSecond = bytesPerSecond;
    this.#capacity = Math.max(64 * 1024, bytesPerSecond / 4);
    this.#tokens = this.#capacity;
    this.#now = now;
    this.#last = now();
  }

  /** Spends `bytes` tokens (going into debt if need be) and returns how long to wait to repay it, ms. */
  reserve(bytes: number): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#last) * this.bytesPerSecond) / 1000);
    this.#last = now;
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.bytesPerSecond;
  }

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const wait = this.reserve(bytes);
    if (wait > 0) await delay(wait, signal);
  }
}
