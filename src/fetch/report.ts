import type { EndpointHealth } from './endpoint-pool.js';
import type { ErrorCode } from '../errors.js';

/** The `--json` report of `fetch` and `mirror` (PRODUCT.md § Output). */
export interface FetchReport {
  ok: boolean;
  manifest: { name: string | null; source: string };
  interrupted: boolean;
  fragments: {
    total: number;
    downloaded: number;
    cached: number;
    revalidated: number;
    failed: number;
    /** Of `failed`, the critical ones: then `timeToCriticalMs` is null, the critical set never became ready. */
    criticalFailed: number;
  };
  /**
   * `downloaded`: fragment bytes received; `received`: every body byte that crossed the wire, those
   * thrown away too (a server that ignores Range, a retried body), so that waste shows.
   */
  bytes: { total: number; downloaded: number; received: number; fromCache: number; resumed: number };
  cache: { dir: string; hits: number; misses: number; hitRate: number };
  bandwidth: { averageBytesPerSecond: number; peakBytesPerSecond: number };
  requests: number;
  retries: number;
  durationMs: number;
  /**
   * Time until every critical fragment was in the cache; null when the manifest has none, when one
   * of them failed (`fragments.criticalFailed`), or when the run stopped before they were all there.
   */
  timeToCriticalMs: number | null;
  /** What the user should know of how the run was made, e.g. that certificates were not verified. */
  warnings?: string[];
  endpoints: EndpointReport[];
  failures: FailureReport[];
}

export interface EndpointReport {
  /** The origin: what fails, throttles or is far away. */
  url: string;
  requests: number;
  bytes: number;
  errors: number;
  /** Its bytes over the run's transfer time, and its best 5 s window. */
  averageBytesPerSecond: number;
  peakBytesPerSecond: number;
  /** At the end of the run: `backed-off` while its circuit breaker is open, `failed` if it never served. */
  state: EndpointHealth;
}

export interface FailureReport {
  id: string;
  path: string;
  url: string;
  error: { code: ErrorCode | 'EUNKNOWN'; message: string; status?: number };
}
