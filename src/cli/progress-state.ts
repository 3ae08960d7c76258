import type { RequestRecord } from '../fetch/context.js';
import type { FetchObserver, FetchPlan } from '../fetch/engine.js';
import { ByOrigin } from '../fetch/by-origin.js';
import type { Fragment } from '../manifest/fragment.js';

/**
 * The current rate (and so the ETA) is measured over this much recent history. nginx's `limit_rate`
 * sends in bursts (a full socket buffer, then a sleep until the average is paid back), so any window
 * near a second reads 2 x too fast, then 2 x too slow; 5 s spans several bursts and still follows a
 * real change within a few seconds, as wget's and rclone's displays do.
 */
export const RATE_WINDOW_MS = 5000;

/** One fragment receiving bytes right now. */
export interface InFlight {
  fragment: Fragment;
  /** Bytes received in this run (a retry that restarts counts its bytes again, so it may pass `size`). */
  bytes: number;
}

/** What a progress display shows, computed when it draws. */
export interface ProgressSnapshot {
  fragmentsTotal: number;
  fragmentsDone: number;
  cacheHits: number;
  failed: number;
  retries: number;
  /** Bytes this run is to download, as far as sizes are declared; failed fragments drop out. */
  bytesTotal: number;
  /** Of `bytesTotal`, what has arrived: settled fragments whole, fragments in flight as far as they got. */
  bytesDone: number;
  /** Bytes per second over the last RATE_WINDOW_MS (5 s). */
  rate: number;
  /** Milliseconds to go at the current rate; undefined when it cannot be told. */
  etaMs: number | undefined;
  /** Fragments receiving bytes, largest first. */
  inFlight: InFlight[];
  /** With more than one endpoint (mirrors): each one's rate over the same window, and its errors. */
  endpoints: { url: string; rate: number; errors: number }[];
}

/** Bytes and errors of one endpoint (an origin) so far. */
interface EndpointCount {
  url: string;
  received: number;
  errors: number;
}

/**
 * The counters behind the progress displays. The engine calls `bytes` tens of thousands of times a
 * second, so events only add to counters; all arithmetic happens in `snapshot()`, which a display
 * calls on its own timer (a few times a second at most).
 */
export class ProgressState implements FetchObserver {
  #now: () => number;
  #fragmentsTotal = 0;
  #fragmentsDone = 0;
  #cacheHits = 0;
  #failed = 0;
  #retries = 0;
  #bytesTotal = 0;
  #settledBytes = 0;
  /** Every body byte received, restarts included: what the network actually carried. */
  #received = 0;
  #inFlight = new Map<Fragment, InFlight>();
  #samples: { at: number; bytes: number; byEndpoint: number[] }[] = [];
  #endpoints = new ByOrigin<EndpointCount>((url) => ({ url, received: 0, errors: 0 }));

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  planned(plan: FetchPlan): void {
    this.#fragmentsTotal = plan.ordered.length;
    this.#bytesTotal = plan.missingBytes;
    this.#samples = [{ at: this.#now(), bytes: 0, byEndpoint: [] }];
  }

  bytes(fragment: Fragment, url: string, bytes: number): void {
    this.#received += bytes;
    this.#endpoints.of(url).received += bytes;
    const entry = this.#inFlight.get(fragment);
    if (entry) entry.bytes += bytes;
    else this.#inFlight.set(fragment, { fragment, bytes });
  }

  retry(): void {
    this.#retries++;
  }

  request(record: RequestRecord): void {
    if (record.error !== undefined) this.#endpoints.of(record.url).errors++;
  }

  settled(fragment: Fragment, outcome: string): void {
    const seen = this.#inFlight.get(fragment)?.bytes ?? 0;
    this.#inFlight.delete(fragment);
    this.#fragmentsDone++;
    switch (outcome) {
      case 'failed':
        this.#failed++;
        this.#bytesTotal -= fragment.size ?? 0;
        break;
      case 'downloaded':
        // Whole, even when part of it arrived in an earlier run (resumed) or under another id (shared content).
        this.#settledBytes += fragment.size ?? seen;
        // A fragment without a declared size was not in the total: it is now.
        if (fragment.size === undefined) this.#bytesTotal += seen;
        break;
      default:
        // 'cached', and whatever else the engine reports from the cache ('revalidated').
        this.#cacheHits++;
    }
  }

  /** Records a rate sample and returns what a display shows. */
  snapshot(): ProgressSnapshot {
    const at = this.#now();
    const counts = [...this.#endpoints.values()];
    const byEndpoint = counts.map((endpoint) => endpoint.received);
    this.#samples.push({ at, bytes: this.#received, byEndpoint });
    while (this.#samples.length > 2 && at - this.#samples[1]!.at >= RATE_WINDOW_MS) this.#samples.shift();
    const first = this.#samples[0]!;
    const span = at - first.at;
    const rateOf = (now: number, then: number) => (span > 0 ? ((now - then) * 1000) / span : 0);
    const rate = rateOf(this.#received, first.bytes);
    const endpoints =
      counts.length < 2
        ? []
        : counts.map((endpoint, index) => ({
            url: endpoint.url,
            rate: rateOf(endpoint.received, first.byEndpoint[index] ?? 0),
            errors: endpoint.errors,
          }));

    const inFlight = [...this.#inFlight.values()].sort(
      (a, b) => (b.fragment.size ?? b.bytes) - (a.fragment.size ?? a.bytes),
    );
    let bytesDone = this.#settledBytes;
    let bytesTotal = this.#bytesTotal;
    for (const { fragment, bytes } of inFlight) {
      if (fragment.size === undefined) {
        // Not declared, so not in the total either: counted on both sides until it settles.
        bytesDone += bytes;
        bytesTotal += bytes;
      } else bytesDone += Math.min(bytes, fragment.size);
    }
    bytesTotal = Math.max(bytesTotal, bytesDone);
    const remaining = bytesTotal - bytesDone;
    return {
      fragmentsTotal: this.#fragmentsTotal,
      fragmentsDone: this.#fragmentsDone,
      cacheHits: this.#cacheHits,
      failed: this.#failed,
      retries: this.#retries,
      bytesTotal,
      bytesDone,
      rate,
      etaMs: remaining === 0 ? 0 : rate > 0 ? (remaining * 1000) / rate : undefined,
      inFlight,
      endpoints,
    };
  }
}

/** Whole percent, and 100 only when everything is there: a bar at 100% that is not done reads as a hang. */
export function percentOf(done: number, total: number): number {
  if (total <= 0) return 0;
  if (done >= total) return 100;
  return Math.min(99, Math.floor((done / total) * 100));
}
