import type { FetchObserver, FetchPlan } from '../fetch/engine.js';
import type { Fragment } from '../manifest/fragment.js';
import { formatBytes, formatRate } from '../units.js';

/**
 * Progress for logs and pipes: a plain line every few seconds, no `\r`, no colour, so a CI log reads
 * top to bottom (rclone's --stats-one-line is the model).
 */
export class ProgressLine implements FetchObserver {
  #write: (line: string) => void;
  #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #total = 0;
  #totalBytes = 0;
  #done = 0;
  #bytes = 0;
  #lastBytes = 0;
  #lastAt = performance.now();

  constructor(write: (line: string) => void, intervalMs = 5000) {
    this.#write = write;
    this.#intervalMs = intervalMs;
  }

  planned(plan: FetchPlan): void {
    this.#total = plan.ordered.length;
    this.#totalBytes = plan.missingBytes;
    this.#timer = setInterval(() => this.#print(), this.#intervalMs);
    this.#timer.unref();
  }

  bytes(_fragment: Fragment, _url: string, bytes: number): void {
    this.#bytes += bytes;
  }

  settled(): void {
    this.#done++;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #print(): void {
    const now = performance.now();
    const rate = ((this.#bytes - this.#lastBytes) * 1000) / Math.max(1, now - this.#lastAt);
    this.#lastBytes = this.#bytes;
    this.#lastAt = now;
    const of = this.#totalBytes > 0 ? ` of ${formatBytes(this.#totalBytes)}` : '';
    const percent =
      this.#totalBytes > 0 ? ` (${Math.min(100, Math.floor((this.#bytes / this.#totalBytes) * 100))}%)` : '';
    this.#write(
      `fragfetch: ${this.#done}/${this.#total} fragments, ${formatBytes(this.#bytes)}${of}${percent}, ${formatRate(rate)}\n`,
    );
  }
}
