import { endpointOf } from './stats.js';

/**
 * Values kept per origin (an endpoint: what fails, throttles or is far away), looked up by URL. A
 * lookup runs per received chunk, and parsing a URL each time showed in profiles: each URL is
 * resolved to its origin's value once. Iterates in order of first use.
 */
export class ByOrigin<T> {
  readonly #byOrigin = new Map<string, T>();
  readonly #byUrl = new Map<string, T>();
  readonly #create: (origin: string) => T;

  constructor(create: (origin: string) => T) {
    this.#create = create;
  }

  of(url: string): T {
    let value = this.#byUrl.get(url);
    if (value !== undefined) return value;
    const origin = endpointOf(url);
    value = this.#byOrigin.get(origin);
    if (value === undefined) {
      value = this.#create(origin);
      this.#byOrigin.set(origin, value);
    }
    this.#byUrl.set(url, value);
    return value;
  }

  entries(): IterableIterator<[origin: string, value: T]> {
    return this.#byOrigin.entries();
  }

  values(): IterableIterator<T> {
    return this.#byOrigin.values();
  }
}
