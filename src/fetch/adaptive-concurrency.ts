export interface AdaptiveConcurrencyOptions {
  /** Requests in flight to start with. */
  initial: number;
  /** Never more than this (`--max-connections`). */
  max: number;
  /** Never fewer. */
  min?: number; // 1
  /** Throughput is judged over windows at least this long, and at least two requests' time. */
  windowMs?: number; // 100 ms
  now?: () => number;
}

/** How much a doubling of the requests in flight must add to the throughput to be kept. */
const GAIN = 1.3;
/** Windows to wait after a step that did not pay before the next try, and its growth then. */
const HOLD_WINDOWS = 16;
const RETRY_GROWTH = 1.25;

/**
 * The requests in flight of a run when `-j auto`: grown while throughput grows, shrunk when a server
 * says it is overloaded (AIMD with a doubling start, as TCP's slow start).
 *
 * Bytes are counted as they arrive and judged per window (at least 100 ms and two requests' time;
 * the first round of requests, and 1.5 requests' time after a step, pass unmeasured while new
 * connections are made). A window counts only when every request
 * that ended in it left work waiting for a slot (saturated): at a run's tail throughput falls for
 * want of work, not of concurrency. The first saturated window measures and the limit doubles at once; then it doubles
 * while each doubling brings at least 30 % more throughput — on a link where each request waits
 * a round trip, twice the requests carry about twice the bytes; where bandwidth is the bound, they
 * carry the same and the step is undone. After a step that did not pay, the next try waits
 * HOLD_WINDOWS and grows by a quarter only.
 *
 * A 429 or 503 (or a connection the server refused or cut) halves the limit at once, at most once a
 * window, and sets a ceiling below the limit at which it came: concurrency never goes back above what
 * the origin answered without errors. Pure logic with an injectable clock.
 */
export class AdaptiveConcurrency {
  #limit: number;
  readonly #min: number;
  #ceiling: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  #windowStart: number;
  #windowBytes = 0;
  #saturated = true;
  #sawRequest = false;
  /** Throughput of the last kept limit, bytes per ms; undefined until measured. */
  #base: number | undefined;
  /** The limit before the step being judged; undefined when none is. */
  #before: number | undefined;
  /** Windows to measure before the next step; none at the start, the first one grows at once. */
  #hold = 0;
  /** Requests of the first round still to end, unmeasured: they make the connections. */
  #warming: number;
  /** Until then, after a step, nothing is measured: the new connections are still being made. */
  #settleUntil = Number.NEGATIVE_INFINITY;
  /** How long a request takes, smoothed (ms). */
  #requestMs: number | undefined;
  #growth = 2;
  #lastCut = Number.NEGATIVE_INFINITY;

  constructor(options: AdaptiveConcurrencyOptions) {
    this.#min = options.min ?? 1;
    this.#ceiling = Math.max(this.#min, options.max);
    this.#limit = Math.min(this.#ceiling, Math.max(this.#min, options.initial));
    this.#warming = this.#limit;
    this.#windowMs = options.windowMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
    this.#windowStart = this.#now();
  }

  get limit(): number {
    return this.#limit;
  }

  get ceiling(): number {
    return this.#ceiling;
  }

  bytes(count: number): void {
    this.#windowBytes += count;
  }

  /**
   * A request ended; `overloaded`: the server said it is (429, 503) or refused or cut the connection;
   * `saturated`: other work was waiting for a slot. Returns the new limit when it changed.
   */
  ended(overloaded: boolean, saturated: boolean, requestMs = 0): number | undefined {
    const now = this.#now();
    if (overloaded) return this.#cut(now);
    if (this.#warming > 0) {
      // The first round of requests made the connections: measured, their handshakes would make
      // the base low and the first step look as if it paid, and their time the windows long.
      if (--this.#warming === 0) this.#restartWindow(now);
      return undefined;
    }
    this.#requestMs =
      this.#requestMs === undefined ? requestMs : this.#requestMs + (requestMs - this.#requestMs) / 8;
    if (now < this.#settleUntil) {
      this.#restartWindow(now);
      return undefined;
    }
    this.#sawRequest = true;
    if (!saturated) this.#saturated = false;
    // Two requests' time at least: a window must see the requests it judges end, each slot's twice.
    if (now - this.#windowStart < Math.max(this.#windowMs, 2 * this.#requestMs)) return undefined;
    const throughput = this.#windowBytes / (now - this.#windowStart);
    const judged = this.#saturated && this.#sawRequest;
    this.#restartWindow(now);
    return judged ? this.#judge(throughput) : undefined;
  }

  #restartWindow(now: number): void {
    this.#windowStart = now;
    this.#windowBytes = 0;
    this.#saturated = true;
    this.#sawRequest = false;
  }

  #judge(throughput: number): number | undefined {
    const before = this.#before;
    if (before !== undefined) {
      this.#before = undefined;
      if (throughput >= (this.#base ?? 0) * (this.#growth === 2 ? GAIN : 1 + (GAIN - 1) / 2)) {
        this.#base = throughput;
        return this.#grow();
      }
      // Did not pay: back to where it was, measured again before the next try.
      this.#limit = before;
      this.#base = undefined;
      this.#hold = HOLD_WINDOWS;
      this.#growth = RETRY_GROWTH;
      return this.#limit;
    }
    if (this.#base === undefined) {
      this.#base = throughput;
      return this.#hold > 0 ? undefined : this.#grow();
    }
    this.#base = Math.max(this.#base, throughput);
    if (--this.#hold > 0) return undefined;
    return this.#grow();
  }

  #grow(): number | undefined {
    const next = Math.min(this.#ceiling, Math.max(this.#limit + 1, Math.round(this.#limit * this.#growth)));
    if (next <= this.#limit) return undefined;
    this.#before = this.#limit;
    this.#limit = next;
    // The new connections' handshakes (a TLS handshake is a round trip or two more than a request)
    // would count against the step: one and a half requests' time passes unmeasured.
    this.#settleUntil = this.#now() + 1.5 * (this.#requestMs ?? 0);
    return next;
  }

  #cut(now: number): number | undefined {
    if (now - this.#lastCut < this.#windowMs) return undefined;
    this.#lastCut = now;
    this.#ceiling = Math.max(this.#min, Math.min(this.#ceiling, this.#limit - 1));
    const next = Math.max(this.#min, Math.floor(this.#limit / 2));
    this.#before = undefined;
    this.#base = undefined;
    this.#hold = HOLD_WINDOWS;
    this.#growth = RETRY_GROWTH;
    this.#restartWindow(now);
    if (next === this.#limit) return undefined;
    this.#limit = next;
    return next;
  }
}
