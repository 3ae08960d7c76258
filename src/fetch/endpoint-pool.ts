import { ByOrigin } from './by-origin.js';

export type EndpointOrder = 'fastest' | 'listed';

/** `backed-off`: its breaker is open or half-open; `failed`: it never answered well and is open. */
export type EndpointHealth = 'healthy' | 'backed-off' | 'failed';

export interface EndpointPoolOptions {
  order: EndpointOrder;
  /** Consecutive failures that open an endpoint's breaker. */
  failuresToOpen?: number; // 3
  /** The first cool-down of an open breaker; each reopening doubles it, up to `maxCoolDownMs`. */
  coolDownMs?: number; // 2 s
  maxCoolDownMs?: number; // 30 s
  /** An endpoint not measured for this long, and idle, gets the next request: has it got faster? */
  probeAfterMs?: number; // 5 s
  /** Bounds of the hedging delay (see `hedgeDelayMs`). */
  minHedgeMs?: number; // 200 ms
  maxHedgeMs?: number; // 10 s
  now?: () => number;
}

/** What the pool knows of one endpoint (an origin: what fails, throttles or is far away). */
interface Endpoint {
  /** Requests sent to it and not yet over. */
  inFlight: number;
  /** Bytes per ms one request of it carries, exponentially weighted; undefined until measured. */
  rate: number | undefined;
  measuredAt: number;
  /** Smoothed time to response headers and its mean deviation, ms (as TCP's SRTT and RTTVAR). */
  latency: number | undefined;
  latencyDeviation: number;
  successes: number;
  failuresInARow: number;
  /** Times the breaker opened since the endpoint last answered well. */
  opened: number;
  /** While open: when a single trial request may go (half-open). */
  openUntil: number;
  /** Half-open and a trial request is out: no other request until it is over. */
  trialOut: boolean;
}

const RATE_WEIGHT = 0.3;

/**
 * The mirrors of a run as one pool: which of a fragment's URLs gets its next request. Every
 * request's outcome feeds back: throughput per request (EWMA), time to headers, and a circuit
 * breaker per endpoint (closed → open after `failuresToOpen` failures in a row → half-open after a
 * cool-down, one trial request → closed on success, open again with twice the cool-down on failure).
 *
 * `fastest` sends each request where the expected share of bandwidth is largest: the endpoint's
 * measured per-request rate over its requests in flight plus one, so a mirror four times as fast
 * takes about four times the requests, and one that slows down under load sheds them. Endpoints not
 * measured yet, or not for `probeAfterMs`, get a request when idle: a mirror that got faster is
 * noticed. `listed` sends to the first healthy endpoint in the manifest's order, the others only
 * while it is backed off (a cache tier in front of its CDN).
 *
 * Pure logic with an injectable clock: no timers, no I/O.
 */
export class EndpointPool {
  readonly order: EndpointOrder;
  readonly #options: Required<Omit<EndpointPoolOptions, 'order' | 'now'>>;
  readonly #now: () => number;
  readonly #endpoints = new ByOrigin<Endpoint>(() => ({
    inFlight: 0,
    rate: undefined,
    measuredAt: 0,
    latency: undefined,
    latencyDeviation: 0,
    successes: 0,
    failuresInARow: 0,
    opened: 0,
    openUntil: 0,
    trialOut: false,
  }));

  constructor(options: EndpointPoolOptions) {
    this.order = options.order;
    this.#now = options.now ?? (() => performance.now());
    this.#options = {
      failuresToOpen: options.failuresToOpen ?? 3,
      coolDownMs: options.coolDownMs ?? 2000,
      maxCoolDownMs: options.maxCoolDownMs ?? 30_000,
      probeAfterMs: options.probeAfterMs ?? 5000,
      minHedgeMs: options.minHedgeMs ?? 200,
      maxHedgeMs: options.maxHedgeMs ?? 10_000,
    };
  }

  /**
   * The index of the URL to ask next among `urls` (a fragment's, one per mirror), considering only
   * those `usable` says this fragment may still use; undefined when there is none.
   */
  choose(urls: readonly string[], usable: (index: number) => boolean = () => true): number | undefined {
    const now = this.#now();
    let best: number | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    // An open breaker is skipped while any other endpoint can take the request.
    let fallback: number | undefined;
    let fallbackOpenUntil = Number.POSITIVE_INFINITY;
    for (let index = 0; index < urls.length; index++) {
      if (!usable(index)) continue;
      const endpoint = this.#endpoints.of(urls[index]!);
      if (!this.#admits(endpoint, now)) {
        if (endpoint.openUntil < fallbackOpenUntil) {
          fallback = index;
          fallbackOpenUntil = endpoint.openUntil;
        }
        continue;
      }
      if (this.order === 'listed') return index;
      const score = this.#score(endpoint, now);
      if (score > bestScore) {
        best = index;
        bestScore = score;
      }
    }
    return best ?? fallback;
  }

  /**
   * `choose` for a download's next request: after a failure at `avoid`, another mirror if any may
   * serve; else any usable one; else (every one ruled out) the pool's pick among all, or the first.
   */
  pick(urls: readonly string[], usable: (index: number) => boolean, avoid?: number): number {
    return (
      (avoid === undefined ? undefined : this.choose(urls, (index) => index !== avoid && usable(index))) ??
      this.choose(urls, usable) ??
      this.choose(urls) ??
      0
    );
  }

  /** A request to `url` is sent: counted in flight until `ended`. */
  sent(url: string): void {
    const endpoint = this.#endpoints.of(url);
    endpoint.inFlight++;
    if (endpoint.openUntil > 0 && endpoint.openUntil <= this.#now()) endpoint.trialOut = true;
  }

  /** Response headers arrived `ms` after the request was sent. */
  answered(url: string, ms: number): void {
    const endpoint = this.#endpoints.of(url);
    if (endpoint.latency === undefined) {
      endpoint.latency = ms;
      endpoint.latencyDeviation = ms / 2;
      return;
    }
    const error = ms - endpoint.latency;
    endpoint.latency += error / 8;
    endpoint.latencyDeviation += (Math.abs(error) - endpoint.latencyDeviation) / 4;
  }

  /** The request is over: `bytes` of body in `ms`; a failure that says the endpoint is unwell, or not. */
  ended(url: string, outcome: { bytes: number; ms: number; failed: boolean }): void {
    const endpoint = this.#endpoints.of(url);
    endpoint.inFlight = Math.max(0, endpoint.inFlight - 1);
    const now = this.#now();
    if (endpoint.openUntil <= now) endpoint.trialOut = false;
    if (outcome.failed) {
      endpoint.failuresInARow++;
      // Requests sent before it opened end as they will: only a failed trial (half-open) reopens it.
      if (endpoint.openUntil > now) return;
      const halfOpen = endpoint.openUntil > 0;
      if (halfOpen || endpoint.failuresInARow >= this.#options.failuresToOpen) {
        endpoint.opened++;
        const coolDown = this.#options.coolDownMs * 2 ** (endpoint.opened - 1);
        endpoint.openUntil = now + Math.min(coolDown, this.#options.maxCoolDownMs);
      }
      return;
    }
    endpoint.successes++;
    endpoint.failuresInARow = 0;
    endpoint.opened = 0;
    endpoint.openUntil = 0;
    // Too small a body says more about latency than about bandwidth, but latency is what a small
    // request costs: it is measured as it is, so the pool favours whatever serves them sooner.
    if (outcome.ms > 0) {
      const rate = outcome.bytes / outcome.ms;
      endpoint.rate =
        endpoint.rate === undefined ? rate : endpoint.rate + RATE_WEIGHT * (rate - endpoint.rate);
      endpoint.measuredAt = now;
    }
  }

  /**
   * How long to wait for response headers before the same request is also sent to another mirror
   * (a hedged request, as gRPC's hedging policy): the slowest time to headers seen so far as TCP
   * computes its retransmission timeout (smoothed time + 4 × its deviation), over every endpoint,
   * bounded. Before any measurement, the upper bound's tenth.
   */
  hedgeDelayMs(): number {
    let timeout: number | undefined;
    for (const endpoint of this.#endpoints.values()) {
      if (endpoint.latency === undefined) continue;
      const mine = endpoint.latency + 4 * endpoint.latencyDeviation;
      timeout = timeout === undefined ? mine : Math.min(timeout, mine);
    }
    const { minHedgeMs, maxHedgeMs } = this.#options;
    return Math.min(maxHedgeMs, Math.max(minHedgeMs, timeout ?? maxHedgeMs / 10));
  }

  /** Each endpoint's state, by origin, for the report and the progress display. */
  health(): Map<string, EndpointHealth> {
    const now = this.#now();
    const states = new Map<string, EndpointHealth>();
    for (const [origin, endpoint] of this.#endpoints.entries()) {
      const open = endpoint.openUntil > 0;
      states.set(
        origin,
        !open ? 'healthy' : endpoint.successes === 0 && endpoint.openUntil > now ? 'failed' : 'backed-off',
      );
    }
    return states;
  }

  #admits(endpoint: Endpoint, now: number): boolean {
    if (endpoint.openUntil === 0) return true;
    return endpoint.openUntil <= now && !endpoint.trialOut;
  }

  #score(endpoint: Endpoint, now: number): number {
    // Not measured, or not lately, and idle: first in line, so that it is measured.
    if (
      endpoint.inFlight === 0 &&
      (endpoint.rate === undefined || now - endpoint.measuredAt > this.#options.probeAfterMs)
    )
      return Number.POSITIVE_INFINITY;
    const rate = endpoint.rate ?? this.#meanRate();
    return rate / (endpoint.inFlight + 1);
  }

  /** What an endpoint not measured yet is taken to carry: the mean of those measured, else 1. */
  #meanRate(): number {
    let sum = 0;
    let count = 0;
    for (const endpoint of this.#endpoints.values()) {
      if (endpoint.rate === undefined) continue;
      sum += endpoint.rate;
      count++;
    }
    return count === 0 ? 1 : sum / count;
  }
}
