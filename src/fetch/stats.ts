import { displayUrl, FragfetchError } from '../errors.js';
import type { Fragment } from '../manifest/fragment.js';
import { PeakMeter } from './bandwidth.js';
import { ByOrigin } from './by-origin.js';
import type { RequestRecord } from './context.js';
import type { EndpointHealth } from './endpoint-pool.js';
import type { EndpointReport, FailureReport, FetchReport } from './report.js';

// The report's endpoints are origins; cli/dry-run counts its per-endpoint totals by the same rule.
export { endpointOf, isOriginOf } from './by-origin.js';

interface EndpointTally {
  requests: number;
  bytes: number;
  errors: number;
  peak: PeakMeter;
}

/**
 * Counts what a run did, from the engine's events, and turns it into the report. Time is injectable
 * so the arithmetic is testable without sleeping.
 */
export class RunStats {
  readonly startedAt: number;
  #now: () => number;
  #fragments = { total: 0, downloaded: 0, cached: 0, revalidated: 0, failed: 0, criticalFailed: 0 };
  #bytes = { total: 0, downloaded: 0, fromCache: 0, resumed: 0 };
  #requests = 0;
  #retries = 0;
  #endpoints: ByOrigin<EndpointTally>;
  #failures: FailureReport[] = [];
  #criticalPending = 0;
  #criticalDoneAt: number | undefined;
  #hasCritical = false;
  #peak: PeakMeter;
  #firstByteAt: number | undefined;
  #lastByteAt: number | undefined;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
    this.startedAt = now();
    this.#peak = new PeakMeter(this.startedAt);
    this.#endpoints = new ByOrigin(() => ({
      requests: 0,
      bytes: 0,
      errors: 0,
      peak: new PeakMeter(this.#now()),
    }));
  }

  get downloadedBytes(): number {
    return this.#bytes.downloaded;
  }

  get fragments(): Readonly<FetchReport['fragments']> {
    return this.#fragments;
  }

  plan(fragments: readonly Fragment[]): void {
    this.#fragments.total = fragments.length;
    for (const fragment of fragments) {
      if (fragment.priority === 'critical') this.#criticalPending++;
    }
    this.#hasCritical = this.#criticalPending > 0;
  }

  cached(fragment: Fragment, size: number): void {
    this.#fragments.cached++;
    this.#bytes.fromCache += size;
    this.#bytes.total += size;
    this.#settled(fragment);
  }

  /** A cached entry that a conditional request (304) proved current: a hit, counted apart. */
  revalidated(fragment: Fragment, size: number): void {
    this.#fragments.revalidated++;
    this.#bytes.fromCache += size;
    this.#bytes.total += size;
    this.#settled(fragment);
  }

  downloaded(fragment: Fragment, size: number, resumed: number): void {
    this.#fragments.downloaded++;
    this.#bytes.total += size;
    this.#bytes.resumed += resumed;
    this.#settled(fragment);
  }

  failed(fragment: Fragment, error: unknown): void {
    this.#fragments.failed++;
    if (fragment.priority === 'critical') this.#fragments.criticalFailed++;
    if (fragment.size !== undefined) this.#bytes.total += fragment.size;
    this.#failures.push(failureOf(fragment, error));
    this.#settled(fragment);
  }

  bytes(url: string, count: number): void {
    const now = this.#now();
    this.#firstByteAt ??= now;
    this.#lastByteAt = now;
    this.#bytes.downloaded += count;
    const endpoint = this.#endpoints.of(url);
    endpoint.bytes += count;
    endpoint.peak.add(now, count);
    this.#peak.add(now, count);
  }

  request(record: RequestRecord): void {
    this.#requests++;
    const tally = this.#endpoints.of(record.url);
    tally.requests++;
    if (record.error !== undefined) tally.errors++;
  }

  retry(): void {
    this.#retries++;
  }

  /** `received`: every body byte of the run's requests (HttpClient.received). */
  report(extra: {
    name?: string;
    source: string;
    cacheDir: string;
    interrupted: boolean;
    received?: number;
    /** Each endpoint's state at the end, by origin (EndpointPool.health). */
    health?: ReadonlyMap<string, EndpointHealth>;
    /** `-j auto`'s limit per origin. */
    concurrency?: ReadonlyMap<string, number>;
  }): FetchReport {
    const durationMs = this.#now() - this.startedAt;
    const transferMs =
      this.#firstByteAt === undefined
        ? 0
        : Math.max(1, (this.#lastByteAt ?? this.#firstByteAt) - this.#firstByteAt);
    const average = transferMs === 0 ? 0 : (this.#bytes.downloaded * 1000) / transferMs;
    const peak = this.#peak.peak(average);
    const lookups =
      this.#fragments.cached +
      this.#fragments.revalidated +
      this.#fragments.downloaded +
      this.#fragments.failed;
    const hits = this.#fragments.cached + this.#fragments.revalidated;
    const endpoints: EndpointReport[] = [...this.#endpoints.entries()].map(([url, tally]) => {
      const averageBytesPerSecond = transferMs === 0 ? 0 : (tally.bytes * 1000) / transferMs;
      return {
        url,
        requests: tally.requests,
        bytes: tally.bytes,
        errors: tally.errors,
        averageBytesPerSecond: Math.round(averageBytesPerSecond),
        peakBytesPerSecond: Math.round(tally.peak.peak(averageBytesPerSecond)),
        state: extra.health?.get(url) ?? 'healthy',
        ...(extra.concurrency?.has(url) ? { concurrency: extra.concurrency.get(url) } : {}),
      };
    });
    return {
      ok: this.#fragments.failed === 0 && !extra.interrupted,
      manifest: { name: extra.name ?? null, source: extra.source },
      interrupted: extra.interrupted,
      fragments: { ...this.#fragments },
      bytes: {
        total: this.#bytes.total,
        downloaded: this.#bytes.downloaded,
        received: extra.received ?? this.#bytes.downloaded,
        fromCache: this.#bytes.fromCache,
        resumed: this.#bytes.resumed,
      },
      cache: {
        dir: extra.cacheDir,
        hits,
        misses: lookups - hits,
        hitRate: lookups === 0 ? 0 : hits / lookups,
      },
      bandwidth: { averageBytesPerSecond: Math.round(average), peakBytesPerSecond: Math.round(peak) },
      requests: this.#requests,
      retries: this.#retries,
      durationMs: Math.round(durationMs),
      // A critical fragment that failed means the critical set was never ready, however fast the rest.
      timeToCriticalMs:
        !this.#hasCritical || this.#criticalDoneAt === undefined || this.#fragments.criticalFailed > 0
          ? null
          : Math.round(this.#criticalDoneAt - this.startedAt),
      endpoints,
      failures: [...this.#failures],
    };
  }

  #settled(fragment: Fragment): void {
    if (fragment.priority !== 'critical') return;
    if (--this.#criticalPending === 0) this.#criticalDoneAt = this.#now();
  }
}

export function failureOf(fragment: Fragment, error: unknown): FailureReport {
  const url = (error instanceof FragfetchError && error.url) || displayUrl(fragment.urls[0] ?? '');
  if (error instanceof FragfetchError) {
    return {
      id: fragment.id,
      path: fragment.path,
      url,
      error: {
        code: error.code,
        message: error.message,
        ...(error.status === undefined ? {} : { status: error.status }),
      },
    };
  }
  return { id: fragment.id, path: fragment.path, url, error: { code: 'EUNKNOWN', message: String(error) } };
}
