import { diskFullError, isDiskFull } from '../cache/disk-full.js';
import type { PartialFiles } from '../cache/partial.js';
import { displayUrl, FragfetchError, isFragfetchError } from '../errors.js';
import type { Fragment } from '../manifest/fragment.js';
import { delay } from '../net/delay.js';
import type { HttpResponse, InPlaceResponse } from '../net/http.js';
import { isRetryable, retryDelay } from '../net/retry.js';
import { type DataFile, MemoryFile } from '../receive/data-file.js';
import type { FileHasher } from '../receive/hasher.js';
import { HeldSlot, type SlotLease } from '../schedule/slot-lease.js';
import type { DownloadContext } from './context.js';
import { countSegments, Coverage, planSegments } from './coverage.js';
import { type HedgeLeg, hedged } from './hedge.js';
import type { ObjectFacts } from './acceptance.js';
import { integrityError, matchesIntegrity } from './integrity.js';
import { fetchSegment, type SegmentOutcome } from './segment.js';
import { endpointOf } from './by-origin.js';
import { memoryTarget, partialTarget } from './download-target.js';
import { FragmentEndpoints } from './fragment-endpoints.js';
import { endpointFault, RequestTally } from './request-tally.js';
import { runSegmentRound, type Segment } from './segment-round.js';
import { StateSaver } from './state-saver.js';

/** A response to the request a download would make first: from byte 0 of its first URL, into its memory. */
export interface FirstResponse {
  /** Rejected when the request failed before an answer. */
  response: Promise<HttpResponse | InPlaceResponse>;
  /** When the request was made (performance.now()). */
  began: number;
  /** The request slot it was made in: the download releases it when that request ends. */
  slot: HeldSlot;
  /**
   * Its bytes and its request were told to the run already: received whole, they were counted
   * then, and only the store found them wrong (small-object.ts). Told again, they would count twice.
   */
  told?: boolean;
}

export interface DownloadResult {
  /** The verified data file, ready to be moved into the cache; or the bytes, for a small object. */
  data: { path: string } | { bytes: Buffer };
  sha256: string;
  size: number;
  url: string;
  etag?: string;
  lastModified?: string;
  /** Bytes that an earlier run had already received. */
  resumedBytes: number;
}

export interface ObjectDownloadOptions {
  fragment: Fragment;
  /** The key its partial state is saved under (unused in memory). */
  key: string;
  partial: PartialFiles;
  ctx: DownloadContext;
  /** Its place in the run's order: the rank of every request slot it asks for. */
  rank: number;
  /** Receive into this instead of the partial file (small objects: see download-group.ts). */
  memory?: Buffer;
  /** The answer to its first request, made already (small-object.ts). */
  first?: FirstResponse;
}

/** How often an object that keeps changing under us is restarted before we give up. */
const MAX_RESTARTS = 3;

/** One request of a segment (see #leg). */
interface Leg {
  endpoint: number;
  start: number;
  end: number | undefined;
  signal: AbortSignal;
  onAnswer: (outcome: SegmentOutcome) => void;
  /** The answer to this very request, made already (small-object.ts). */
  first?: FirstResponse;
  /** Set when the request is one of a hedged pair. */
  hedge?: HedgeLeg;
}

/** A request's failure, with the endpoint it was sent to (a hedged try has two). */
class LegFailure {
  constructor(
    readonly error: unknown,
    readonly endpoint: number,
  ) {}
}

/**
 * Downloads one fragment into its partial file: resumes what an earlier run left, splits a large
 * object into ranges fetched over several connections, retries each range with backoff and fails
 * over between endpoints, restarts from zero when the object changed, and verifies the result.
 */
export class ObjectDownload {
  readonly #fragment: Fragment;
  readonly #endpoints: FragmentEndpoints;
  readonly #key: string;
  readonly #partial: PartialFiles;
  readonly #ctx: DownloadContext;
  readonly #rank: number;
  /** The slots acquired for this download's first requests (schedule.ts), until they take them. */
  #lease: SlotLease | undefined;

  #file!: DataFile;
  #hasher!: FileHasher;
  #coverage = new Coverage();
  #facts: ObjectFacts = {};
  #size: number | undefined;
  /** Answers accepted in this run. */
  #answered = 0;
  #restarts = 0;
  #toldRanges = false;
  /** Where the partial state is saved from: none for bytes in memory, which are never resumed. */
  readonly #saver: StateSaver | undefined;

  readonly #memory: Buffer | undefined;
  /** The answer to this download's first request, made already (small-object.ts). */
  #first: FirstResponse | undefined;

  constructor(options: ObjectDownloadOptions) {
    const { fragment } = options;
    this.#memory = options.memory;
    this.#first = options.first;
    this.#fragment = fragment;
    this.#ctx = options.ctx;
    const pool = this.#ctx.endpoints;
    this.#endpoints = new FragmentEndpoints(fragment.urls, (urls, usable, avoid) =>
      pool.pick(urls, usable, avoid),
    );
    this.#key = options.key;
    this.#partial = options.partial;
    this.#rank = options.rank;
    this.#size = fragment.size;
    this.#saver = options.memory
      ? undefined
      : new StateSaver({
          write: (state) => this.#partial.save(state),
          state: () => ({
            version: 1,
            key: this.#key,
            ...this.#facts,
            ...(this.#size === undefined ? {} : { size: this.#size }),
            spans: [...this.#coverage.spans],
          }),
          size: () => this.#size,
        });
  }

  /**
   * `lease`: the request slots already acquired for this fragment, taken by its first requests
   * (one, or a large object's first connections: see schedule.ts); its later requests acquire their
   * own. Whatever is left of it is given back when the download ends.
   */
  async run(lease?: SlotLease): Promise<DownloadResult> {
    this.#lease = lease;
    try {
      return await this.#run();
    } finally {
      this.#lease?.release();
      // A first request handed over and never reached (its slot is still ours).
      this.#first?.slot.release();
    }
  }

  async #run(): Promise<DownloadResult> {
    const fragment = this.#fragment;
    const target = this.#memory
      ? memoryTarget(this.#memory, fragment)
      : await partialTarget(this.#partial, this.#key, fragment).catch((error: unknown) => {
          throw isDiskFull(error)
            ? diskFullError(this.#partial.cacheDir, `starting ${fragment.id}`, error)
            : error;
        });
    this.#file = target.file;
    this.#hasher = target.hasher;
    if (target.resumed) {
      this.#coverage = target.resumed.coverage;
      this.#size ??= target.resumed.size;
      this.#facts = target.resumed.facts;
    }
    const resumedBytes = this.#coverage.size;
    let integrityRetried = false;
    try {
      for (;;) {
        await this.#transferAll();
        const size = this.#size ?? 0;
        const digests = await this.#hasher.digests(size);
        const sha256 = digests.get('sha256')!;
        if (!matchesIntegrity(fragment, digests)) {
          if (!integrityRetried) {
            // One clean retry: a corrupting proxy or a bad resume should not fail the run.
            integrityRetried = true;
            this.#ctx.events.retry(fragment, integrityError(fragment, digests), 0);
            await this.#restart(false);
            continue;
          }
          await this.#closeFile();
          await this.#partial.remove();
          throw integrityError(fragment, digests);
        }
        await this.#saver?.stop();
        await this.#file.truncate(size);
        await this.#closeFile();
        return {
          data:
            this.#file instanceof MemoryFile ? { bytes: this.#file.data } : { path: this.#partial.dataPath },
          sha256,
          size,
          url: this.#facts.url ?? this.#endpoints.urls[0]!,
          ...(this.#facts.etag === undefined ? {} : { etag: this.#facts.etag }),
          ...(this.#facts.lastModified === undefined ? {} : { lastModified: this.#facts.lastModified }),
          resumedBytes,
        };
      }
    } catch (caught) {
      await this.#saver?.stop();
      const error = isFragfetchError(caught, 'ENOSPC')
        ? diskFullError(this.#partial.cacheDir, `downloading ${fragment.id}`, caught.cause ?? caught)
        : caught;
      // A full disk keeps the bytes only if a later run can resume from them.
      const resumable = this.#facts.ranges !== false && this.#size !== undefined;
      if (isFragfetchError(error, 'ESIZE') || (isFragfetchError(error, 'ENOSPC') && !resumable))
        await this.#partial.remove();
      // A lost lock: the partial files are another process's now, its state is not ours to write.
      else if (!isFragfetchError(error, 'ELOCKLOST')) await this.#saver?.save();
      await this.#closeFile();
      throw error;
    }
  }

  /** Runs rounds of segment requests until the window is complete, restarting when the object changed. */
  async #transferAll(): Promise<void> {
    for (;;) {
      const size = this.#size;
      if (size !== undefined && this.#coverage.contiguousEnd(0) >= size) return;
      let segments: Iterable<Segment> = [{ start: 0, end: undefined }];
      let count = 1;
      if (size !== undefined) {
        const holes = this.#coverage.missing(size);
        const split = size > this.#ctx.splitThreshold && this.#facts.ranges !== false;
        segments = split ? planSegments(holes, this.#ctx.chunkSize) : holes;
        count = split ? countSegments(holes, this.#ctx.chunkSize) : holes.length;
      }
      try {
        await this.#runSegments(segments, count);
      } catch (error) {
        const ignoredRange = isFragfetchError(error, 'ERANGE') && error.status === 200;
        if (!(isFragfetchError(error, 'ECHANGED') || ignoredRange)) throw error;
        // A byte range of an object its server sends whole: cut, with its siblings, from one download.
        if (
          ignoredRange &&
          this.#fragment.offset !== undefined &&
          this.#ctx.rangeVerdict?.(this.#fragment, false)
        )
          throw error;
        if (++this.#restarts > MAX_RESTARTS) throw error;
        this.#ctx.events.retry(this.#fragment, error, 0);
        await this.#restart(ignoredRange);
      }
    }
  }

  /** Fetches segments with up to `maxConnectionsPerObject` requests at once. */
  #runSegments(segments: Iterable<Segment>, count: number): Promise<void> {
    return runSegmentRound({
      segments,
      count,
      width: this.#ctx.maxConnectionsPerObject,
      gated: this.#facts.ranges === undefined,
      signal: this.#ctx.signal,
      widthChosen: (width) => this.#lease?.keep(width),
      fetch: (segment, signal, onHeaders) => this.#fetchWithRetry(segment, signal, onHeaders),
    });
  }

  async #fetchWithRetry(segment: Segment, signal: AbortSignal, onHeaders?: () => void): Promise<void> {
    const fragment = this.#fragment;
    for (let attempt = 1; ; attempt++) {
      const end = segment.end ?? this.#size;
      const start = Math.min(this.#coverage.contiguousEnd(segment.start), end ?? Number.POSITIVE_INFINITY);
      if (end !== undefined && start >= end) return;
      const endpoint = this.#endpoints.choose();
      const first = this.#first;
      this.#first = undefined;
      // A slot is for one request: released when it ends, and before a backoff, so that the wait
      // holds no one else up; the next attempt acquires its own.
      const slot =
        first?.slot ?? this.#lease?.take() ?? (await HeldSlot.acquire(this.#ctx.slots, this.#rank, signal));
      const onAnswer = (outcome: SegmentOutcome) => {
        slot.answered();
        if (outcome.status === 206 && fragment.offset !== undefined && !this.#toldRanges) {
          this.#toldRanges = true;
          this.#ctx.rangeVerdict?.(fragment, true);
        }
        this.#size ??= this.#facts.objectSize;
        this.#saver?.answered();
        onHeaders?.();
      };
      try {
        await this.#attempt({ endpoint, start, end, signal, onAnswer }, first);
        return;
      } catch (caught) {
        if (signal.aborted) throw signal.reason ?? caught;
        const { error, endpoint: failed } =
          caught instanceof LegFailure ? caught : { error: caught, endpoint };
        if (isFragfetchError(error, 'ECHANGED') && this.#endpoints.setAside(failed, this.#facts.url)) {
          // That mirror's copy differs from the one being received: this object keeps to the
          // mirrors that agree, and starts over only when none is left.
          attempt--;
          continue;
        }
        if (
          isFragfetchError(error, 'ECHANGED') ||
          (isFragfetchError(error, 'ERANGE') && error.status === 200)
        ) {
          throw error;
        }
        const wait = this.#retryWait(error, attempt, failed);
        if (wait === undefined) throw error;
        this.#ctx.events.retry(fragment, error, wait);
        slot.release();
        await delay(wait, signal);
      } finally {
        slot.release();
      }
    }
  }

  /** How long to wait before the next try after `error` at `endpoint`, or undefined to give up. */
  #retryWait(error: unknown, attempt: number, endpoint: number): number | undefined {
    const next = this.#endpoints.failed(error, endpoint);
    if (next === 'give-up') return undefined;
    return next === 'elsewhere' ? 0 : retryDelay(attempt, error, this.#ctx.retry, this.#ctx.random);
  }

  /**
   * One try at a segment: a request to `endpoint`, hedged to another mirror when the fragment has
   * one and no answer comes within the pool's hedging delay (hedge.ts). A hedged request takes no
   * slot of its own: it stands in for one that is not answering.
   */
  #attempt(leg: Omit<Leg, 'first' | 'hedge'>, first: FirstResponse | undefined): Promise<void> {
    if (first || this.#endpoints.urls.length === 1) return this.#leg({ ...leg, ...(first ? { first } : {}) });
    const delayMs = this.#ctx.endpoints.hedgeDelayMs();
    return hedged({
      delayMs,
      signal: leg.signal,
      primary: leg.endpoint,
      alternate: () => this.#endpoints.choose(leg.endpoint),
      lost: (endpoint) => lostHedge(this.#endpoints.urls[endpoint]!, delayMs),
      send: (endpoint, hedge) => this.#leg({ ...leg, endpoint, hedge }),
    });
  }

  /** One request for [start, end) to one endpoint, told to the pool and to the run's statistics. */
  async #leg({ endpoint, start, end, signal, onAnswer, first, hedge }: Leg): Promise<void> {
    const fragment = this.#fragment;
    const url = this.#endpoints.urls[endpoint]!;
    const tally = new RequestTally(this.#ctx, fragment, url, first);
    const events = this.#ctx.events;
    const saver = this.#saver;
    let outcome: SegmentOutcome | undefined;
    try {
      outcome = await fetchSegment({
        http: this.#ctx.http,
        request: {
          url,
          start,
          end,
          objectOffset: fragment.offset ?? 0,
          isRange: fragment.offset !== undefined,
          declaredSize: fragment.size,
          // If-Range only for bytes an earlier run received: within a run every answer's validators
          // are compared anyway, and an If-Range on each later range makes a slicing cache tier
          // (nginx's slice module) read its first slice again for every request.
          sendValidators:
            this.#answered === 0 &&
            this.#facts.url !== undefined &&
            endpointOf(this.#facts.url) === endpointOf(url),
        },
        facts: () => this.#facts,
        sink: {
          file: this.#file,
          coverage: this.#coverage,
          hasher: this.#hasher,
          limiter: this.#ctx.limiter,
          signal: hedge?.signal ?? signal,
          onBytes: first?.told ? () => {} : (bytes) => events.bytes(fragment, url, bytes),
          // Bytes in memory have no state to save: no timer per object.
          onWritten: saver
            ? (bytes) => {
                saver.written(bytes);
                events.written?.(fragment, this.#partial.dataPath, this.#coverage.contiguousEnd(0));
              }
            : () => {},
        },
        onAnswer: (response, facts) => {
          this.#facts = facts;
          outcome = response;
          this.#answered++;
          tally.answered();
          onAnswer(response);
        },
        ...(first ? { given: first.response } : {}),
        ...(hedge ? { claim: hedge.claim } : {}),
      });
    } catch (caught) {
      if (signal.aborted) {
        tally.stopped();
        throw new LegFailure(signal.reason ?? caught, endpoint);
      }
      // A hedge that lost: its endpoint's fault if it had not answered by then.
      const error = hedge?.signal.aborted ? hedge.signal.reason : caught;
      tally.ended({
        status: (isFragfetchError(error) ? error.status : undefined) ?? outcome?.status,
        range: outcome?.range,
        bytes: 0,
        error,
        failed: outcome === undefined ? isRetryable(error) : endpointFault(error),
      });
      throw new LegFailure(error, endpoint);
    }
    this.#size ??= this.#facts.objectSize ?? start + outcome.bytes;
    this.#endpoints.succeeded();
    tally.ended({ ...outcome, failed: false });
  }

  /** Drops every byte received: the object changed, it failed verification, or Range is not honoured. */
  async #restart(rangesIgnored: boolean): Promise<void> {
    this.#coverage.clear();
    this.#endpoints.restart();
    this.#hasher.reset();
    this.#facts = rangesIgnored ? { ranges: false } : {};
    this.#size = this.#fragment.size;
    await this.#file.truncate(0);
    await this.#saver?.save();
  }

  async #closeFile(): Promise<void> {
    this.#hasher?.dispose();
    await this.#file?.close().catch(() => {});
  }
}

/** The abort reason of a request another mirror answered first. */
function lostHedge(url: string, delayMs: number): FragfetchError {
  return new FragfetchError(
    'ETIMEOUT',
    `GET ${displayUrl(url)}: no answer within ${Math.round(delayMs)} ms; another mirror answered first`,
    { url },
  );
}
