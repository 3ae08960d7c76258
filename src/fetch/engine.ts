import { setMaxListeners } from 'node:events';
import { PartialFiles } from '../cache/partial.js';
import { type CacheHit, CacheStore, cacheKey } from '../cache/store.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import { orderFragments } from '../manifest/order.js';
import { HttpClient } from '../net/http.js';
import { RateLimiter } from '../net/rate-limit.js';
import { defaultRetryPolicy } from '../net/retry.js';
import { Slots } from '../schedule/slots.js';
import type { DownloadContext, RequestRecord } from './context.js';
import { ObjectDownload } from './object-download.js';
import type { FetchReport } from './report.js';
import { RunStats } from './stats.js';

export interface FetchOptions {
  cacheDir: string;
  /** Requests in flight at once. */
  concurrency?: number; // 16
  retries?: number; // 5
  timeoutMs?: number; // 30 s
  stallTimeoutMs?: number; // 30 s
  /** Bytes per second for the whole run; undefined for no cap. */
  limitRate?: number;
  headers?: Record<string, string>;
  splitThreshold?: number; // 16 MiB
  chunkSize?: number; // 8 MiB
  maxConnectionsPerObject?: number; // 8
  signal?: AbortSignal;
  observer?: FetchObserver;
  /** Injected by tests to make backoff deterministic. */
  random?: () => number;
  baseDelayMs?: number;
}

/** What a front end (progress bars, `--verbose`) may watch; every member is optional. */
export interface FetchObserver {
  planned?(plan: FetchPlan): void;
  bytes?(fragment: Fragment, url: string, bytes: number): void;
  request?(record: RequestRecord): void;
  retry?(fragment: Fragment, error: unknown, delayMs: number): void;
  settled?(fragment: Fragment, outcome: 'downloaded' | 'cached' | 'failed', error?: unknown): void;
}

export interface FetchPlan {
  ordered: Fragment[];
  cached: Map<Fragment, CacheHit>;
  missing: Fragment[];
  /** Bytes to download, as far as sizes are declared. */
  missingBytes: number;
}

export const fetchDefaults = {
  concurrency: 16,
  retries: defaultRetryPolicy.retries,
  timeoutMs: 30_000,
  stallTimeoutMs: 30_000,
  splitThreshold: 16 * 1024 * 1024,
  chunkSize: 8 * 1024 * 1024,
  maxConnectionsPerObject: 8,
} as const;

const LOOKUP_CONCURRENCY = 32;

/** Which fragments the cache already holds: index reads and stats, no request, no hashing. */
export async function planFetch(manifest: Manifest, store: CacheStore): Promise<FetchPlan> {
  const ordered = orderFragments(manifest.fragments);
  const cached = new Map<Fragment, CacheHit>();
  let next = 0;
  const lookup = async () => {
    while (next < ordered.length) {
      const fragment = ordered[next++]!;
      const hit = await store.lookup(fragment);
      if (hit) cached.set(fragment, hit);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUP_CONCURRENCY, ordered.length) }, lookup));
  const missing = ordered.filter((fragment) => !cached.has(fragment));
  const missingBytes = missing.reduce((sum, fragment) => sum + (fragment.size ?? 0), 0);
  return { ordered, cached, missing, missingBytes };
}

/**
 * Brings every fragment of a manifest into the cache: cached ones cost nothing, the others are
 * downloaded in priority order with at most `concurrency` requests in flight. One failed fragment
 * does not stop the others. Resolves with the report whatever happened, including an abort.
 */
export async function fetchManifest(manifest: Manifest, options: FetchOptions): Promise<FetchReport> {
  const settings = { ...fetchDefaults, ...withoutUndefined(options), cacheDir: options.cacheDir };
  const signal = runSignal(options.signal);
  const observer = options.observer ?? {};
  const stats = new RunStats();
  const store = new CacheStore(settings.cacheDir);
  const plan = await planFetch(manifest, store);
  stats.plan(plan.ordered);
  observer.planned?.(plan);
  for (const [fragment, hit] of plan.cached) {
    stats.cached(fragment, hit.size);
    observer.settled?.(fragment, 'cached');
  }

  const http = new HttpClient({
    timeoutMs: settings.timeoutMs,
    stallTimeoutMs: settings.stallTimeoutMs,
    headers: settings.headers ?? {},
  });
  const ctx: DownloadContext = {
    http,
    slots: new Slots(settings.concurrency),
    retry: {
      ...defaultRetryPolicy,
      retries: settings.retries,
      ...(options.baseDelayMs === undefined ? {} : { baseDelayMs: options.baseDelayMs }),
    },
    limiter: settings.limitRate ? new RateLimiter(settings.limitRate) : undefined,
    splitThreshold: settings.splitThreshold,
    chunkSize: settings.chunkSize,
    maxConnectionsPerObject: settings.maxConnectionsPerObject,
    signal,
    ...(options.random ? { random: options.random } : {}),
    events: {
      bytes: (fragment, url, bytes) => {
        stats.bytes(url, bytes);
        observer.bytes?.(fragment, url, bytes);
      },
      request: (record) => {
        stats.request(record);
        observer.request?.(record);
      },
      retry: (fragment, error, delayMs) => {
        stats.retry();
        observer.retry?.(fragment, error, delayMs);
      },
    },
  };

  // Content named twice (the same integrity under two ids) is fetched once and settles both.
  const byKey = new Map<string, Fragment[]>();
  for (const fragment of plan.missing) {
    const key = cacheKey(fragment);
    const group = byKey.get(key);
    if (group) group.push(fragment);
    else byKey.set(key, [fragment]);
  }

  const jobs: Promise<void>[] = [];
  let rank = 0;
  try {
    for (const [key, group] of byKey) {
      const slot = await ctx.slots.acquire(rank, signal);
      jobs.push(downloadOne(group, key, rank, slot, ctx, store, manifest, stats, observer));
      rank++;
    }
  } catch {
    // Aborted while waiting for a slot: what is running winds down below.
  }
  await Promise.all(jobs);
  await http.close().catch(() => http.destroy());
  return stats.report({
    ...(manifest.name === undefined ? {} : { name: manifest.name }),
    source: manifest.source,
    cacheDir: settings.cacheDir,
    interrupted: signal.aborted,
  });
}

async function downloadOne(
  group: Fragment[],
  key: string,
  rank: number,
  slot: () => void,
  ctx: DownloadContext,
  store: CacheStore,
  manifest: Manifest,
  stats: RunStats,
  observer: FetchObserver,
): Promise<void> {
  const fragment = group[0]!;
  const partial = new PartialFiles(store.dir, key);
  try {
    const result = await new ObjectDownload(fragment, key, partial, ctx, rank).run(slot);
    await store.insertFile(fragment, result.dataPath, result.sha256, result.size, {
      id: fragment.id,
      url: result.url,
      ...(result.etag === undefined ? {} : { etag: result.etag }),
      ...(result.lastModified === undefined ? {} : { lastModified: result.lastModified }),
      ...(fragment.offset === undefined ? {} : { offset: fragment.offset }),
      ...(manifest.name === undefined ? {} : { manifest: manifest.name }),
    });
    await partial.remove();
    group.forEach((member, i) => {
      stats.downloaded(member, result.size, i === 0 ? result.resumedBytes : 0);
      observer.settled?.(member, 'downloaded');
    });
  } catch (error) {
    // An abort is not the fragment's failure: its partial state is kept for the next run.
    if (ctx.signal.aborted) return;
    for (const member of group) {
      stats.failed(member, error);
      observer.settled?.(member, 'failed', error);
    }
  }
}

/**
 * The run's own signal, following the caller's: every request, slot wait and backoff listens to it,
 * far more than EventTarget's default of ten listeners, which would otherwise warn of a leak.
 */
function runSignal(outer: AbortSignal | undefined): AbortSignal {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener('abort', () => controller.abort(outer.reason), { once: true });
  return controller.signal;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
