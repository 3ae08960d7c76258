import { AdaptiveConcurrency, type AdaptiveConcurrencyOptions } from './adaptive-concurrency.js';
import { ByOrigin } from './by-origin.js';

/**
 * `-j auto` per origin: each endpoint has its own controller (AdaptiveConcurrency), judged on its
 * own bytes and its own overload answers, so a mirror that answers 429 is halved alone and a far
 * edge grows without the near one's bandwidth bound stopping it. The run's request slots are the
 * sum of the limits of the origins the run has used or weighed — in `listed` order a fallback
 * (a CDN behind its cache tier) adds nothing until it is used — and `initial` before any. Each limit is also the pool's cap for its origin (EndpointPool's `capOf`).
 */
export class OriginConcurrency {
  readonly #initial: number;
  readonly #controllers: ByOrigin<AdaptiveConcurrency>;
  #total: number | undefined;

  constructor(options: AdaptiveConcurrencyOptions) {
    this.#initial = options.initial;
    this.#controllers = new ByOrigin(() => {
      this.#total = undefined;
      return new AdaptiveConcurrency(options);
    });
  }

  /** The run's request slots. */
  get total(): number {
    if (this.#total === undefined) {
      let total = 0;
      for (const controller of this.#controllers.values()) total += controller.limit;
      this.#total = total === 0 ? this.#initial : total;
    }
    return this.#total;
  }

  /** Requests in flight `url`'s origin may have. */
  limitOf(url: string): number {
    return this.#controllers.of(url).limit;
  }

  /** Each origin's limit, for the report. */
  limits(): Map<string, number> {
    return new Map(
      [...this.#controllers.entries()].map(([origin, controller]) => [origin, controller.limit]),
    );
  }

  bytes(url: string, count: number): void {
    this.#controllers.of(url).bytes(count);
  }

  /** A request to `url` ended (see AdaptiveConcurrency.ended). */
  ended(url: string, overloaded: boolean, saturated: boolean, requestMs: number): void {
    if (this.#controllers.of(url).ended(overloaded, saturated, requestMs) !== undefined)
      this.#total = undefined;
  }
}
