/** The slowest a body may arrive: `bytesPerSecond` on average over each `windowMs` (curl's -Y/-y). */
export interface MinSpeed {
  bytesPerSecond: number;
  windowMs: number;
}

/** A body slower than its floor: undici-style code, mapped to ESLOW by http.ts. */
export class SlowBodyError extends Error {
  readonly code = 'FRAGFETCH_SLOW';
}

/**
 * Watches one body's pace in consecutive windows of `windowMs`: a window that brings fewer than
 * `bytesPerSecond × windowMs` bytes ends the body — a drip that the stall timeout, which only sees
 * silence, would let run for ever. A window in which we held the body back (backpressure: a slow
 * disk, --limit-rate) says nothing of the server and is not judged. One timer per body.
 */
export class SpeedFloor {
  readonly #need: number;
  readonly #min: MinSpeed;
  readonly #onSlow: (error: SlowBodyError) => void;
  #timer: NodeJS.Timeout | undefined;
  #bytes = 0;
  #held = false;
  #heldInWindow = false;

  constructor(min: MinSpeed, onSlow: (error: SlowBodyError) => void) {
    this.#min = min;
    this.#need = (min.bytesPerSecond * min.windowMs) / 1000;
    this.#onSlow = onSlow;
    this.#arm();
  }

  received(bytes: number): void {
    this.#bytes += bytes;
  }

  /** We stopped reading (backpressure); `release` when reading again. */
  hold(): void {
    this.#held = true;
    this.#heldInWindow = true;
  }

  release(): void {
    this.#held = false;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#bytes = 0;
    this.#heldInWindow = this.#held;
    this.#timer = setTimeout(() => this.#judge(), this.#min.windowMs);
    this.#timer.unref();
  }

  #judge(): void {
    this.#timer = undefined;
    if (!this.#heldInWindow && this.#bytes < this.#need) {
      const { bytesPerSecond, windowMs } = this.#min;
      this.#onSlow(
        new SlowBodyError(
          `${this.#bytes} bytes in ${windowMs / 1000} s, under the floor of ${bytesPerSecond} B/s (--min-speed)`,
        ),
      );
      return;
    }
    this.#arm();
  }
}
