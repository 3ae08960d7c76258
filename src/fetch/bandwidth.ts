/**
 * Bandwidth is sampled over consecutive windows of this length to find the peak. As long as the
 * progress display's rate window (cli/progress-state.ts): against nginx's `limit_rate`, which sends
 * in bursts, one-second windows reported a peak twice the limit the server holds to.
 */
export const PEAK_WINDOW_MS = 5000;

/**
 * The peak throughput of one flow of bytes (the run's, or one endpoint's): the best of consecutive
 * PEAK_WINDOW_MS windows. Only adds on the hot path (a call per received chunk); the division
 * happens once per window.
 */
export class PeakMeter {
  #windowStart: number;
  #windowBytes = 0;
  // A double from the start (-0, where 0 would be a small integer): the first peak, a fraction, then
  // changed the field's representation, and V8 threw away the optimized code of everything that
  // inlines these statistics. The report's Math.max turns it into 0.
  #peak = -0;

  constructor(start: number) {
    this.#windowStart = start;
  }

  add(now: number, bytes: number): void {
    if (now - this.#windowStart >= PEAK_WINDOW_MS) {
      this.#peak = Math.max(this.#peak, (this.#windowBytes * 1000) / (now - this.#windowStart));
      this.#windowStart = now;
      this.#windowBytes = 0;
    }
    this.#windowBytes += bytes;
  }

  /** Bytes per second; a flow shorter than one window still has a peak: its `average`. */
  peak(average: number): number {
    return Math.max(this.#peak, average);
  }
}
