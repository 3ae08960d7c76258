import { setMaxListeners } from 'node:events';
import { appendHistory, recordOf } from '../cache/history.js';
import { type CacheHit, CacheStore, cacheKey } from '../cache/store.js';
import { FragfetchError, isFragfetchError } from '../errors.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import { orderFragments } from '../manifest/order.js';
import { manifestTrust } from '../manifest/trust.js';
import { HttpClient, type NetworkOptions } from '../net/http.js';
import { RateLimiter } from '../net/rate-limit.js';
import { defaultRetryPolicy } from '../net/retry.js';
import { INSECURE_WARNING } from '../net/tls.js';
import { SmallBuffers } from '../receive/small-buffers.js';
import { forEachLimit } from '../schedule/limit.js';
import { Slots } from '../schedule/slots.js';
import type { DownloadContext, DownloadEvents, RequestRecord } from './context.js';
import { SMALL_OBJECT_BYTES, settleFailed } from './download-group.js';
import { type EndpointOrder, EndpointPool, type EndpointPoolOptions } from './endpoint-pool.js';
import type { JobContext } from './job.js';
import type { FetchObserver, FetchPlan } from './observer.js';
import { OriginConcurrency } from './origin-concurrency.js';
import type { FetchReport } from './report.js';
import { type CacheMode, settleCached } from './revalidate.js';
import { downloadMissing } from './schedule.js';
import { RunStats } from './stats.js';

export type { EndpointOrder } from './endpoint-pool.js';
// The engine's callers (cli/, loader/, mirror/) import what they observe from here.
export type { FetchObserver, FetchPlan, SettledOutcome } from './observer.js';

export interface FetchOptions {
  cacheDir: string;
  /**
   * Requests in flight at once; `auto`: per origin, from 16, grown while throughput grows and
   * shrunk when a server says it is overloaded, up to `maxConnections` (origin-concurrency.ts).
   */
  concurrency?: number | 'auto'; // auto
  /** The most requests in flight `auto` may reach at one origin. */
  maxConnections?: number; // 64
  retries?: number; // 5
  timeoutMs?: number; // 30 s
  stallTimeoutMs?: number; // 30 s
  /** The slowest average pace of a body, bytes per second, over each `minSpeedTimeMs`; 0 is none. */
  minSpeed?: number; // 1 KiB/s
  minSpeedTimeMs?: number; // 30 s
  /** Bytes per second for the whole run; undefined for no cap. */
  limitRate?: number;
  headers?: Record<string, string>;
  /** Proxies, TLS, HTTP/2, credentials (see NetworkOptions); default: Node's CAs, proxies from the environment. */
  network?: NetworkOptions;
  splitThreshold?: number; // 16 MiB
  chunkSize?: number; // 8 MiB
  maxConnectionsPerObject?: number; // 16
  /**
   * How a fragment's URLs (one per base URL: mirrors of one another) share the work. `fastest`:
   * spread over the healthy ones by measured throughput; `listed`: the first healthy one, the
   * others only when it fails (a cache tier listed before the CDN).
   */
  endpointOrder?: EndpointOrder; // fastest
  signal?: AbortSignal;
  observer?: FetchObserver;
  /** How cached entries are trusted (see CacheMode); default: revalidate what has no integrity. */
  cacheMode?: CacheMode;
  /** After the run, prune least-recently used content above this many bytes (never this manifest's). */
  maxCacheSize?: number;
  /** Append the run to the cache's run history (`cache stats`); default true. */
  history?: boolean;
  /** Injected by tests to make backoff deterministic. */
  random?: () => number;
  baseDelayMs?: number;
  /** Injected by tests: shorter circuit-breaker cool-downs and hedging delays. */
  endpointPool?: Omit<EndpointPoolOptions, 'order'>;
  /** Injected by tests: how often a held partial-download lock is refreshed and checked. */
  lockRefreshMs?: number;
}

export const fetchDefaults = {
  // The benchmark's every scenario: auto no slower than a fixed 16, and far faster where each
  // request waits a round trip (bench/README.md).
  concurrency: 'auto' as number | 'auto',
  /** Where `-j auto` starts. */
  initialConcurrency: 16,
  maxConnections: 64,
  retries: defaultRetryPolicy.retries,
  timeoutMs: 30_000,
  stallTimeoutMs: 30_000,
  // A drip, which the stall timeout (silence only) never ends. 1 KiB/s is 12 days a GiB: no
  // download worth waiting for, yet a hundredth of the slowest link we serve (1 Mbit/s shared by
  // 16 requests is 7.8 KiB/s each). Judged over the stall timeout's 30 s, so that a drip is caught
  // as soon as silence would be; windows in which we held the body back are not judged.
  minSpeed: 1024,
  minSpeedTimeMs: 30_000,
  splitThreshold: 16 * 1024 * 1024,
  chunkSize: 8 * 1024 * 1024,
  // 16, as aria2c -x16, hf_xet and ollama: CDNs cap each connection, and the run-wide limit
  // (--concurrency) still bounds the total.
  maxConnectionsPerObject: 16,
  endpointOrder: 'fastest' as EndpointOrder,
} as const;

const LOOKUP_CONCURRENCY = 32;

/** Which fragments the cache already holds: index reads and stats, no request, no hashing. */
export async function planFetch(
  manifest: Manifest,
  store: CacheStore,
  warn?: (message: string) => void,
  /** The manifest's fragments in download order, when the caller has them already. */
  ordered: Fragment[] = orderFragments(manifest.fragments),
): Promise<FetchPlan> {
  const cached = new Map<Fragment, CacheHit>();
  if (await store.hasIndex()) {
    await forEachLimit(ordered, LOOKUP_CONCURRENCY, async (fragment) => {
      const hit = await store.lookup(fragment, warn);
      if (hit) cached.set(fragment, hit);
    });
  }
  // Nothing cached (a cold cache, a dry run of a new manifest): the order itself, not a copy of it.
  const missing = cached.size === 0 ? ordered : ordered.filter((fragment) => !cached.has(fragment));
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
  checkSettings(settings);
  const mode = options.cacheMode ?? 'default';
  const signal = runSignal(options.signal);
  const observer = options.observer ?? {};
  const warn = (message: string) => observer.warn?.(message);
  const stats = new RunStats();
  const store = new CacheStore(settings.cacheDir);
  const plan = await planFetch(manifest, store, warn);
  stats.plan(plan.ordered);
  observer.planned?.(plan);

  const http = new HttpClient({
    ...options.network,
    timeoutMs: settings.timeoutMs,
    stallTimeoutMs: settings.stallTimeoutMs,
    minSpeed:
      settings.minSpeed > 0 && settings.minSpeedTimeMs > 0
        ? { bytesPerSecond: settings.minSpeed, windowMs: settings.minSpeedTimeMs }
        : undefined,
    headers: settings.headers ?? {},
    trust: manifestTrust(manifest),
  });
  const adaptive =
    settings.concurrency === 'auto'
      ? new OriginConcurrency({ initial: settings.initialConcurrency, max: settings.maxConnections })
      : undefined;
  const slots = new Slots(adaptive ? adaptive.total : (settings.concurrency as number));
  const ctx: DownloadContext = {
    http,
    slots,
    endpoints: new EndpointPool({
      ...options.endpointPool,
      order: settings.endpointOrder,
      ...(adaptive ? { capOf: (url: string) => adaptive.limitOf(url) } : {}),
    }),
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
    events: runEvents(stats, observer, adaptive, slots),
  };
  const stale = new Set<string>();
  /** Said to the user as it happened, and kept in the report: how the run had to be made. */
  const notices: string[] = [];
  const mostRequests = adaptive ? Math.max(slots.capacity, settings.maxConnections) : slots.capacity;
  const job: JobContext = {
    ctx,
    store,
    manifest,
    stats,
    observer,
    stale,
    // Memory for one of the largest small objects per request in flight, four of 64 KiB: the store
    // worker writes the jobs of one turn as one batch and answers when all are on disk, so objects
    // wait for it in bursts, and with room for only two of 64 KiB per request the main thread sat
    // idle for memory a quarter of a run of small objects. Room for eight took the peak RSS to the
    // 200 MiB bound on a slow disk (all of it made, as the store fell behind), with no run faster.
    // 16 MiB at 64 requests, made as first needed; with `-j auto`, for the most requests an origin
    // may reach.
    smallBuffers: new SmallBuffers(SMALL_OBJECT_BYTES * mostRequests, SMALL_OBJECT_BYTES),
    ...(options.lockRefreshMs === undefined ? {} : { lock: { refreshMs: options.lockRefreshMs } }),
  };

  // Cached entries first: used as they are, or revalidated by one conditional request per content.
  const changed = await settleCached(plan, mode, job, warn).catch((error: unknown) => {
    // Interrupted while revalidating: the report says so; anything else is a bug to surface.
    if (signal.aborted) return [];
    throw error;
  });
  for (const fragment of changed) stale.add(cacheKey(fragment));
  const missing = orderFragments([...plan.missing, ...changed]);

  if (mode === 'offline') {
    for (const fragment of missing) {
      const error = new FragfetchError('EOFFLINE', `${fragment.id}: not in the cache, and --offline is set`, {
        url: fragment.urls[0],
      });
      settleFailed([fragment], error, job);
    }
  } else {
    await downloadMissing(missing, job, (message) => {
      notices.push(message);
      warn(message);
    });
  }
  await http.close().catch(() => http.destroy());
  const report = stats.report({
    ...(manifest.name === undefined ? {} : { name: manifest.name }),
    source: manifest.source,
    cacheDir: settings.cacheDir,
    interrupted: signal.aborted,
    received: http.received,
    health: ctx.endpoints.health(),
    ...(adaptive ? { concurrency: adaptive.limits() } : {}),
  });
  if (options.network?.tls?.insecure) notices.unshift(INSECURE_WARNING);
  if (notices.length > 0) report.warnings = notices;
  if (options.history !== false) await appendHistory(settings.cacheDir, recordOf(report));
  if (options.maxCacheSize !== undefined && !signal.aborted) {
    // Loaded only here: it brings cacache, ~80 ms of a run's start that a fetch does not otherwise need.
    const { enforceMaxCacheSize } = await import('../cache/maintain.js');
    await enforceMaxCacheSize(settings.cacheDir, options.maxCacheSize, [manifest]).catch((error: unknown) =>
      warn(`cannot prune the cache to --max-cache-size: ${(error as Error).message}`),
    );
  }
  return report;
}

/**
 * The run's own signal, aborted with the caller's. `AbortSignal.any` follows the caller's signal
 * without adding a listener to it per run (a listener never removed warned after 11 runs on one
 * signal); the run's signal is waited on by every request, so it has no listener limit.
 */
function runSignal(outer: AbortSignal | undefined): AbortSignal {
  const signal = outer ? AbortSignal.any([outer]) : new AbortController().signal;
  setMaxListeners(0, signal);
  return signal;
}

/**
 * The engine's door: counts and sizes a library caller could get wrong (the CLI's parsers refuse
 * them first). A chunk of 0 bytes planned ranges until the heap was gone.
 */
function checkSettings(settings: {
  concurrency: number | 'auto';
  maxConnections: number;
  chunkSize: number;
  maxConnectionsPerObject: number;
}): void {
  for (const [name, value] of Object.entries({
    ...(settings.concurrency === 'auto' ? {} : { concurrency: settings.concurrency }),
    maxConnections: settings.maxConnections,
    chunkSize: settings.chunkSize,
    maxConnectionsPerObject: settings.maxConnectionsPerObject,
  })) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new FragfetchError('EUSAGE', `invalid ${name} ${value}: expected a whole number of at least 1`);
  }
}

/** A server's answer that it is overloaded, or a connection it refused or cut: fewer requests. */
function isOverload(record: RequestRecord): boolean {
  if (record.error === undefined) return false;
  if (record.status === 429 || record.status === 503) return true;
  return isFragfetchError(record.error, 'ENETWORK') && record.status === undefined;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** What the downloads tell the run: its statistics, `-j auto`'s limits, and the caller's observer. */
function runEvents(
  stats: RunStats,
  observer: FetchObserver,
  adaptive: OriginConcurrency | undefined,
  slots: Slots,
): DownloadEvents {
  return {
    bytes: (fragment, url, bytes) => {
      stats.bytes(url, bytes);
      adaptive?.bytes(url, bytes);
      observer.bytes?.(fragment, url, bytes);
    },
    request: (record) => {
      stats.request(record);
      if (adaptive) {
        // Every slot busy (this one still held, or already handed to the next request): the
        // limit, not the work, bounds what is in flight.
        adaptive.ended(record.url, isOverload(record), slots.inUse >= slots.capacity, record.ms);
        if (slots.capacity !== adaptive.total) slots.capacity = adaptive.total;
      }
      observer.request?.(record);
    },
    retry: (fragment, error, delayMs) => {
      stats.retry();
      observer.retry?.(fragment, error, delayMs);
    },
    ...(observer.written ? { written: observer.written } : {}),
  };
}
