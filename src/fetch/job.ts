import type { LockOptions } from '../cache/lock.js';
import type { CacheStore } from '../cache/store.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import type { SmallBuffers } from '../receive/small-buffers.js';
import type { DownloadContext } from './context.js';
import type { FetchObserver } from './observer.js';
import type { RunStats } from './stats.js';

/** What one download job of a run needs besides its fragments. */
export interface JobContext {
  ctx: DownloadContext;
  store: CacheStore;
  manifest: Manifest;
  stats: RunStats;
  observer: FetchObserver;
  /** Entries this run already proved stale (304 failed): another process's copy of them is no hit. */
  stale: ReadonlySet<string>;
  /** Memory for objects up to SMALL_OBJECT_BYTES, received and stored without a partial file. */
  smallBuffers: SmallBuffers;
  /** Timing of partial-download locks (tests shorten the refresh). */
  lock?: LockOptions;
  /** Fragments whose download stopped to be cut from a whole download (range-probes.ts). */
  handedOver?: ReadonlySet<Fragment>;
}
