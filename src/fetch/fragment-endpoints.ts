import { isFragfetchError } from '../errors.js';
import { isRetryable } from '../net/retry.js';
import { endpointOf } from './by-origin.js';

/** The pool's choice among a fragment's URLs (EndpointPool.pick). */
export type PickEndpoint = (
  urls: readonly string[],
  usable: (index: number) => boolean,
  avoid?: number,
) => number;

/** What follows a failed request: another endpoint at once, a backoff first, or nothing. */
export type AfterFailure = 'elsewhere' | 'backoff' | 'give-up';

/**
 * Which of one fragment's mirrors may still serve it, for one download: those that cannot (a 404,
 * a wrong size, Range refused) are dropped, those whose copy differs from the one being received
 * are set aside until a restart, and after a failure the next request goes to another if there is one.
 */
export class FragmentEndpoints {
  /**
   * The fragment's URLs, read once: a manifest's `urls` may be made anew at each read (resolve.ts),
   * and each request and each choice of endpoint reads them.
   */
  readonly urls: readonly string[];
  readonly #pick: PickEndpoint;
  readonly #dead = new Set<number>();
  readonly #mismatched = new Set<number>();
  /** The endpoint whose request failed last. */
  #avoid: number | undefined;

  constructor(urls: readonly string[], pick: PickEndpoint) {
    this.urls = urls;
    this.#pick = pick;
  }

  /** The endpoint for the next request; `avoid`: one not to take if another will do (a hedge's primary). */
  choose(avoid?: number): number {
    return this.#pick(this.urls, this.#usable, avoid ?? this.#avoid);
  }

  /**
   * `endpoint` sent another copy of the object than the one whose validators (from `receivedFrom`)
   * its bytes carry. Set aside, and true, when it is another mirror and one that may agree is left;
   * false when the object must start over.
   */
  setAside(endpoint: number, receivedFrom: string | undefined): boolean {
    const urls = this.urls;
    if (receivedFrom === undefined || endpointOf(receivedFrom) === endpointOf(urls[endpoint]!)) return false;
    const agreeing = urls.some((_, index) => index !== endpoint && this.#usable(index));
    if (agreeing) this.#mismatched.add(endpoint);
    return agreeing;
  }

  /**
   * A request to `endpoint` failed with `error`: an endpoint that cannot serve the fragment (a wrong
   * size, Range refused, an encoding it will not drop, an HTTP error no retry mends) is dropped and
   * the next goes elsewhere at once; a transient failure waits a backoff; with no endpoint left, give up.
   */
  failed(error: unknown, endpoint: number): AfterFailure {
    const definitive =
      isFragfetchError(error, 'ESIZE') ||
      isFragfetchError(error, 'ERANGE') ||
      isFragfetchError(error, 'EENCODING') ||
      (isFragfetchError(error, 'EHTTP') && !isRetryable(error));
    if (definitive) this.#dead.add(endpoint);
    if (this.urls.every((_, index) => this.#dead.has(index))) return 'give-up';
    this.#avoid = this.urls.length > 1 ? endpoint : undefined;
    return definitive ? 'elsewhere' : 'backoff';
  }

  /** A request succeeded: the next goes wherever the pool chooses. */
  succeeded(): void {
    this.#avoid = undefined;
  }

  /** The object starts over: every copy may be the one received now. */
  restart(): void {
    this.#mismatched.clear();
  }

  readonly #usable = (index: number): boolean => !this.#dead.has(index) && !this.#mismatched.has(index);
}
