import type { Fragment } from '../manifest/fragment.js';
import { isFragfetchError } from '../errors.js';
import { isRetryable } from '../net/retry.js';
import type { DownloadEvents } from './context.js';
import type { EndpointPool } from './endpoint-pool.js';

/** How a request ended, for the run's statistics: what it was answered, what it brought, why it failed. */
export interface RequestEnd {
  status: number | undefined;
  range: string | undefined;
  bytes: number;
  error?: unknown;
  /** Whether the failure counts against its endpoint (the pool's circuit breaker). */
  failed: boolean;
}

/** Who hears of a request: the run's endpoint pool and its statistics (DownloadContext's). */
export interface TallyListeners {
  endpoints: Pick<EndpointPool, 'sent' | 'answered' | 'ended'>;
  events: Pick<DownloadEvents, 'request'>;
}

/**
 * The account of one request to a mirror: in flight at the endpoint pool from its making, its
 * answer's latency (the pool's measure of the mirror), and one end told to the pool and to the
 * run's statistics (stats.ts, `--verbose`), whichever way it ends. A request whose bytes and
 * record the run has already (`told`: the short path's, small-object.ts) is told to the pool only.
 */
export class RequestTally {
  readonly began: number;
  readonly #to: TallyListeners;
  readonly #fragment: Fragment;
  readonly #url: string;
  readonly #told: boolean;

  constructor(
    to: TallyListeners,
    fragment: Fragment,
    url: string,
    made?: { began: number; told?: boolean | undefined },
  ) {
    this.#to = to;
    this.#fragment = fragment;
    this.#url = url;
    this.began = made?.began ?? performance.now();
    this.#told = made?.told === true;
    to.endpoints.sent(url);
  }

  /** The response's headers came. */
  answered(): void {
    this.#to.endpoints.answered(this.#url, performance.now() - this.began);
  }

  /** Stopped with its round or the run: no one's failure, and not a request to count. */
  stopped(bytes = 0): void {
    this.#to.endpoints.ended(this.#url, { bytes, ms: performance.now() - this.began, failed: false });
  }

  ended({ status, range, bytes, error, failed }: RequestEnd): void {
    const ms = performance.now() - this.began;
    this.#to.endpoints.ended(this.#url, { bytes, ms, failed });
    if (this.#told) return;
    const record = { fragment: this.#fragment, url: this.#url, status, range, bytes, ms };
    this.#to.events.request(error === undefined ? record : { ...record, error });
  }
}

/**
 * Whether a request that failed after its answer says its endpoint is unwell (for its circuit
 * breaker): a body cut or stalled, a 5xx, a 429. A 404 or a wrong size is the fragment's, a hedge
 * that lost after it answered no one's (its abort reason is an ETIMEOUT, and headers that are late
 * fail before an answer).
 */
export function endpointFault(error: unknown): boolean {
  return !isFragfetchError(error, 'ETIMEOUT') && isRetryable(error);
}
