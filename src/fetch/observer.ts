import type { CacheHit } from '../cache/store.js';
import type { Fragment } from '../manifest/fragment.js';
import type { RequestRecord } from './context.js';

/** What a front end (progress bars, `--verbose`) may watch; every member is optional. */
export interface FetchObserver {
  planned?(plan: FetchPlan): void;
  bytes?(fragment: Fragment, url: string, bytes: number): void;
  request?(record: RequestRecord): void;
  retry?(fragment: Fragment, error: unknown, delayMs: number): void;
  /**
   * Bytes [0, `readyTo`) of a large fragment are on disk in its partial file `path`, unverified: for
   * readers that stream a fragment while it downloads (the loader's `read`).
   */
  written?(fragment: Fragment, path: string, readyTo: number): void;
  settled?(fragment: Fragment, outcome: SettledOutcome, error?: unknown): void;
  /** Something the user should know that is not a failure: a damaged cache entry, a failed revalidation. */
  warn?(message: string): void;
}

/** `revalidated`: cached, and a conditional request (304) proved it current. */
export type SettledOutcome = 'downloaded' | 'cached' | 'revalidated' | 'failed';

export interface FetchPlan {
  ordered: Fragment[];
  cached: Map<Fragment, CacheHit>;
  missing: Fragment[];
  /** Bytes to download, as far as sizes are declared. */
  missingBytes: number;
}
