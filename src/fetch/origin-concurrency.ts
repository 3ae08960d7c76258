import { AdaptiveConcurrency, type AdaptiveConcurrencyOptions } from './adaptive-concurrency.js';
import { ByOrigin } from './by-origin.js';

/**
 * `-j auto` per origin: each endpoint has its own controller (AdaptiveConcurrency), judged on its
 * own bytes and its own overload answers, so a mirror that answers 429 is halved alone and a far
 * edge grows without the near one's bandwidth bound stopping it. Each limit is the pool's cap for
 * its origin (EndpointPool's `capOf`); the run's request slots are the largest of them, `initial`
 * before any origin is used. Not their sum: with a slot per request that each mirror could take,
 * every queued fragment would start at once and a slow mirror would get as many as a fast one,
 * where the pool, given fewer slots than the mirrors could take, sends each to the fastest.
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
      for (const controller of this.#controllers.values()) total = Math.max(total, controller.limit);
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
