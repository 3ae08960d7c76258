import type { Fragment } from '../manifest/fragment.js';
import type { HttpClient } from '../net/http.js';
import type { RateLimiter } from '../net/rate-limit.js';
import type { RetryPolicy } from '../net/retry.js';
import type { Slots } from '../schedule/slots.js';
import type { EndpointPool } from './endpoint-pool.js';

/** One finished or failed HTTP request, for statistics and `--verbose`. */
export interface RequestRecord {
  fragment: Fragment;
  url: string;
  status: number | undefined;
  range: string | undefined;
  bytes: number;
  ms: number;
  error?: unknown;
}

export interface DownloadEvents {
  /** Body bytes received for a fragment, as they arrive. */
  bytes(fragment: Fragment, url: string, bytes: number): void;
  request(record: RequestRecord): void;
  /** A retry or a restart is about to happen, after `delayMs`. */
  retry(fragment: Fragment, error: unknown, delayMs: number): void;
  /** Bytes [0, `readyTo`) of the fragment are on disk in its partial file `path` (not yet verified). */
  written?(fragment: Fragment, path: string, readyTo: number): void;
}

/** What every download of a run shares. */
export interface DownloadContext {
  http: HttpClient;
  slots: Slots;
  /** Which mirror each request goes to, from what the run measured of each (endpoint-pool.ts). */
  endpoints: EndpointPool;
  retry: RetryPolicy;
  limiter: RateLimiter | undefined;
  /** Objects larger than this are fetched as several ranges at once. */
  splitThreshold: number;
  chunkSize: number;
  maxConnectionsPerObject: number;
  signal: AbortSignal;
  events: DownloadEvents;
  random?: () => number;
  /**
   * Told how a byte-range fragment's range request was answered (a 206, or the whole object);
   * true when the download is to stop there, its fragment cut from one whole download instead
   * (range-probes.ts).
   */
  rangeVerdict?: (fragment: Fragment, honoured: boolean) => boolean;
}
