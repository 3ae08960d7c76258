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
 * Slow start only where the first round's requests carried at most this much each. It may grow
 * up to twice past what pays before a window shows it; requests this small end within a round trip
 * or two, and the extra with them. Large ones (16 MiB) would hold the extra connections for seconds,
 * and the first round's time, long for a process's start as much as for handshakes, says nothing
 * of round trips there.
 */
const SLOW_START_BYTES = 1024 * 1024;

/**
 * The requests in flight of a run when `-j auto`: grown while throughput grows, shrunk when a server
 * says it is overloaded (AIMD with a slow start, as TCP's).
 *
 * Bytes are counted as they arrive and judged per window (at least 100 ms and two requests' time;
 * the first round of requests, and 1.5 requests' time after a step, pass unmeasured while new
 * connections are made). A window counts only when every request that ended in it left work
 * waiting for a slot (saturated): at a run's tail throughput falls for want of work, not of
 * concurrency.
 *
 * Where a round trip is most of a small request's time (`#waitsRoundTrips`, SLOW_START_BYTES),
 * twice the requests carry about twice the bytes, and the limit grows from the first round's end
 * as TCP's window grows per ACK: by one for each request that ends saturated, so it doubles in a
 * request's time — yet never past twice what its window began at, so that the window that judges
 * a doubling sees it. Each window must bring 30 % more throughput per doubling of its mean limit
 * over the window before; one that does not sends the limit back to where the window before
 * began, and slow start is over.
 *
 * Elsewhere, or after that, the limit moves in judged steps: the first saturated window measures
 * and the limit doubles at once; then it doubles while each doubling brings at least 30 % more
 * throughput — where bandwidth is the bound, twice the requests carry the same and the step is
 * undone. After a step that did not pay, the next try waits HOLD_WINDOWS and grows by a quarter only.
 *
 * A 429 or 503 (or a connection the server refused or cut) halves the limit at once, at most once a
 * window, ends slow start, and sets a ceiling below the limit at which it came: concurrency never
 * goes back above what the origin answered without errors. Pure logic with an injectable clock.
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
  readonly #initial: number;
  /** The first round's requests' time, summed (ms), and the bytes that arrived meanwhile. */
  #warmingMs = 0;
  #warmingBytes = 0;
  /** Until then, after a step, nothing is measured: the new connections are still being made. */
  #settleUntil = Number.NEGATIVE_INFINITY;
  /** How long a request takes, smoothed (ms). */
  #requestMs: number | undefined;
  #growth = 2;
  /**
   * Growing by one per request that ended saturated, from the first round's end until a window
   * shows the growth did not pay; undefined until the first request after that round decides it.
   */
  #slowStart: boolean | undefined;
  /** The limit the current window began at. */
  #windowLimit: number;
  /** The current window's limit integrated over its time (limit × ms), to its last request. */
  #limitMs = 0;
  #limitAt: number;
  /** The mean limit of the window that measured `#base`. */
  #baseLimitMean: number | undefined;
  #lastCut = Number.NEGATIVE_INFINITY;

  constructor(options: AdaptiveConcurrencyOptions) {
    this.#min = options.min ?? 1;
    this.#ceiling = Math.max(this.#min, options.max);
    this.#limit = Math.min(this.#ceiling, Math.max(this.#min, options.initial));
    this.#warming = this.#limit;
    this.#initial = this.#limit;
    this.#windowMs = options.windowMs ?? 100;
    this.#now = options.now ?? (() => performance.now());
    this.#windowStart = this.#now();
    this.#windowLimit = this.#limit;
    this.#limitAt = this.#windowStart;
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
    const was = this.#limit;
    this.#update(this.#now(), overloaded, saturated, requestMs);
    return this.#limit === was ? undefined : this.#limit;
  }

  #update(now: number, overloaded: boolean, saturated: boolean, requestMs: number): void {
    if (overloaded) return this.#cut(now);
    if (this.#warming > 0) {
      // The first round of requests made the connections: measured, their handshakes would make
      // the base low and the first step look as if it paid, and their time the windows long.
      this.#warmingMs += requestMs;
      if (--this.#warming === 0) {
        this.#warmingBytes = this.#windowBytes;
        this.#restartWindow(now);
      }
      return;
    }
    this.#requestMs =
      this.#requestMs === undefined ? requestMs : this.#requestMs + (requestMs - this.#requestMs) / 8;
    if (this.#slowStart === undefined) {
      this.#slowStart = this.#warmingBytes / this.#initial <= SLOW_START_BYTES && this.#waitsRoundTrips();
      if (this.#slowStart) this.#before = this.#limit;
    }
    this.#limitMs += this.#limit * (now - this.#limitAt);
    this.#limitAt = now;
    // Slow start: while the steps pay, each request that ended with work waiting brings one more,
    // so the limit doubles in a request's time rather than once a judged window.
    if (this.#slowStart && this.#before !== undefined && saturated) {
      this.#limit = Math.min(this.#ceiling, 2 * this.#windowLimit, this.#limit + 1);
    }
    if (now < this.#settleUntil) return this.#restartWindow(now);
    this.#sawRequest = true;
    if (!saturated) this.#saturated = false;
    // Two requests' time at least: a window must see the requests it judges end, each slot's twice.
    const length = now - this.#windowStart;
    if (length < Math.max(this.#windowMs, 2 * this.#requestMs)) return;
    const throughput = this.#windowBytes / length;
    const limitMean = this.#limitMs / length;
    const judged = this.#saturated && this.#sawRequest;
    const began = this.#windowLimit;
    this.#restartWindow(now);
    if (judged) this.#judge(throughput, limitMean, began);
  }

  /**
   * Whether a round trip is at least half a request's time. A new connection's handshake (TCP's, or
   * TLS's) costs a round trip more: the first round's requests took the time of the others plus
   * about one. Where bandwidth is the bound, a round trip is little of a request and the two match.
   */
  #waitsRoundTrips(): boolean {
    const warming = this.#warmingMs / this.#initial;
    const request = this.#requestMs ?? warming;
    return request > 0 && warming - request >= request / 2;
  }

  #restartWindow(now: number): void {
    this.#windowStart = now;
    this.#windowBytes = 0;
    this.#saturated = true;
    this.#sawRequest = false;
    this.#windowLimit = this.#limit;
    this.#limitMs = 0;
    this.#limitAt = now;
  }

  /** `limitMean`: the window's mean limit; `began`: its limit at the start. */
  #judge(throughput: number, limitMean: number, began: number): void {
    const before = this.#before;
    const lastMean = this.#baseLimitMean;
    this.#baseLimitMean = limitMean;
    if (before !== undefined) {
      // What the step must bring: 30 % a doubling; in slow start, a doubling of the mean limit from
      // the window that measured the base to this one, and no loss once the limit stopped growing.
      const needed = this.#slowStart
        ? Math.max(1, 1 + (GAIN - 1) * Math.log2(limitMean / (lastMean ?? limitMean)))
        : this.#growth === 2
          ? GAIN
          : 1 + (GAIN - 1) / 2;
      if (throughput >= (this.#base ?? 0) * needed) {
        this.#base = throughput;
        if (this.#slowStart) {
          // The window just judged is the next one's base: a step back goes to where it began.
          // One spent wholly at the ceiling ends slow start, with no step left to judge.
          this.#before = began === this.#ceiling ? undefined : began;
          if (began === this.#ceiling) this.#slowStart = false;
          return;
        }
        this.#before = undefined;
        return this.#grow();
      }
      // Did not pay: back to where it was, measured again before the next try.
      this.#limit = before;
      this.#before = undefined;
      this.#base = undefined;
      this.#hold = HOLD_WINDOWS;
      this.#growth = RETRY_GROWTH;
      this.#slowStart = false;
      return;
    }
    if (this.#base === undefined) {
      this.#base = throughput;
      if (this.#hold === 0) this.#grow();
      return;
    }
    this.#base = Math.max(this.#base, throughput);
    if (--this.#hold > 0) return;
    this.#grow();
  }

  #grow(): void {
    const next = Math.min(this.#ceiling, Math.max(this.#limit + 1, Math.round(this.#limit * this.#growth)));
    if (next <= this.#limit) return;
    this.#before = this.#limit;
    this.#limit = next;
    // The new connections' handshakes (a TLS handshake is a round trip or two more than a request)
    // would count against the step: one and a half requests' time passes unmeasured.
    this.#settleUntil = this.#now() + 1.5 * (this.#requestMs ?? 0);
  }

  #cut(now: number): void {
    if (now - this.#lastCut < this.#windowMs) return;
    this.#lastCut = now;
    this.#ceiling = Math.max(this.#min, Math.min(this.#ceiling, this.#limit - 1));
    // Slow start may have run up to twice past what the origin takes before its first refusal came
    // back: halving from there would leave the origin overloaded for another window. Halve from
    // what the window began at, as if the growth had not been.
    const from = this.#slowStart ? Math.min(this.#limit, this.#windowLimit) : this.#limit;
    const next = Math.max(this.#min, Math.floor(from / 2));
    this.#before = undefined;
    this.#base = undefined;
    this.#hold = HOLD_WINDOWS;
    this.#growth = RETRY_GROWTH;
    this.#slowStart = false;
    this.#limit = next;
    this.#restartWindow(now);
  }
}
