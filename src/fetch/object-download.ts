import { setMaxListeners } from 'node:events';
import { diskFullError, isDiskFull } from '../cache/disk-full.js';
import type { PartialFiles, PartialState } from '../cache/partial.js';
import { displayUrl, FragfetchError, isFragfetchError } from '../errors.js';
import type { Fragment } from '../manifest/fragment.js';
import { delay } from '../net/delay.js';
import type { HttpResponse } from '../net/http.js';
import type { InPlaceResponse } from '../net/http.js';
import { isRetryable, retryDelay } from '../net/retry.js';
import { type DataFile, MemoryFile, openDataFile } from '../receive/data-file.js';
import { type FileHasher, ProgressiveHasher, WholeHasher } from '../receive/hasher.js';
import { HeldSlot, type SlotLease } from '../schedule/slot-lease.js';
import { forEachLimit } from '../schedule/limit.js';
import type { DownloadContext } from './context.js';
import { countSegments, Coverage, planSegments } from './coverage.js';
import { type HedgeLeg, hedged } from './hedge.js';
import type { ObjectFacts } from './acceptance.js';
import { hashAlgorithms, integrityError, matchesIntegrity } from './integrity.js';
import { fetchSegment, type SegmentOutcome } from './segment.js';
import { endpointOf } from './by-origin.js';

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
const SAVE_INTERVAL_MS = 1000;
/**
 * A kill -9 loses what was received since the last save: at most ~5 % of the object or 8 MiB,
 * whichever is larger. Saved at a quarter of that, by bytes as well as by time (a fast link brings
 * far more than 8 MiB a second): the rest covers what is received but not yet written (up to two
 * batches of 512 KiB per connection, segment-writer.ts: one being written, one gathering) and a
 * save that falls behind the writes on a loaded machine.
 */
const LOSS_FLOOR_BYTES = 8 * 1024 * 1024;
const LOSS_FRACTION = 0.05;

interface Segment {
  start: number;
  end: number | undefined;
}

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
  /**
   * The fragment's URLs, read once: a manifest's `urls` may be made anew at each read (resolve.ts),
   * and each request and each choice of endpoint reads them.
   */
  readonly #urls: readonly string[];
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
  /** Mirrors that cannot serve this fragment (404, wrong size), and those whose copy differs. */
  #deadEndpoints = new Set<number>();
  #mismatched = new Set<number>();
  /** Answers accepted in this run. */
  #answered = 0;
  /** The endpoint whose request failed last: the next goes to another if there is one. */
  #avoid: number | undefined;
  #restarts = 0;
  #toldRanges = false;
  #saveTimer: NodeJS.Timeout | undefined;
  #saving: Promise<void> = Promise.resolve();
  /** Bytes written since the state was last saved; undefined until this run's first answer. */
  #unsaved: number | undefined;
  #saveQueued = false;

  readonly #memory: Buffer | undefined;
  /** The answer to this download's first request, made already (small-object.ts). */
  #first: FirstResponse | undefined;

  constructor(options: ObjectDownloadOptions) {
    const { fragment } = options;
    this.#memory = options.memory;
    this.#first = options.first;
    this.#fragment = fragment;
    this.#urls = fragment.urls;
    this.#key = options.key;
    this.#partial = options.partial;
    this.#ctx = options.ctx;
    this.#rank = options.rank;
    this.#size = fragment.size;
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
    const resumedBytes = this.#memory
      ? this.#openMemory(this.#memory)
      : await this.#openPartial().catch((error: unknown) => {
          throw isDiskFull(error)
            ? diskFullError(this.#partial.cacheDir, `starting ${fragment.id}`, error)
            : error;
        });
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
        await this.#stopSaving();
        await this.#file.truncate(size);
        await this.#closeFile();
        return {
          data:
            this.#file instanceof MemoryFile ? { bytes: this.#file.data } : { path: this.#partial.dataPath },
          sha256,
          size,
          url: this.#facts.url ?? this.#urls[0]!,
          ...(this.#facts.etag === undefined ? {} : { etag: this.#facts.etag }),
          ...(this.#facts.lastModified === undefined ? {} : { lastModified: this.#facts.lastModified }),
          resumedBytes,
        };
      }
    } catch (caught) {
      await this.#stopSaving();
      const error = isFragfetchError(caught, 'ENOSPC')
        ? diskFullError(this.#partial.cacheDir, `downloading ${fragment.id}`, caught.cause ?? caught)
        : caught;
      // A full disk keeps the bytes only if a later run can resume from them.
      const resumable = this.#facts.ranges !== false && this.#size !== undefined;
      if (isFragfetchError(error, 'ESIZE') || (isFragfetchError(error, 'ENOSPC') && !resumable))
        await this.#partial.remove();
      // A lost lock: the partial files are another process's now, its state is not ours to write.
      else if (!isFragfetchError(error, 'ELOCKLOST')) await this.#save();
      await this.#closeFile();
      throw error;
    }
  }

  /** Receives into memory: nothing kept from an earlier run (see download-group.ts). */
  #openMemory(memory: Buffer): number {
    const file = new MemoryFile(memory);
    this.#file = file;
    this.#hasher = new WholeHasher(() => file.data, hashAlgorithms(this.#fragment));
    return 0;
  }

  /** Opens or creates the partial file and loads what an earlier run saved; returns the bytes kept. */
  async #openPartial(): Promise<number> {
    const algorithms = hashAlgorithms(this.#fragment);
    await this.#partial.prepare();
    let state = await this.#partial.load(this.#key);
    if (state && this.#fragment.size !== undefined && state.size !== this.#fragment.size) state = undefined;
    try {
      this.#file = await openDataFile(this.#partial.dataPath, state ? 'r+' : 'w+');
    } catch {
      state = undefined;
      this.#file = await openDataFile(this.#partial.dataPath, 'w+');
    }
    this.#hasher = new ProgressiveHasher(this.#file, algorithms, {
      path: this.#partial.dataPath,
      ...(this.#size === undefined ? {} : { size: this.#size }),
    });
    if (!state) return 0;
    this.#coverage = new Coverage(state.spans);
    this.#size ??= state.size;
    this.#facts = {
      ...(state.url === undefined ? {} : { url: state.url }),
      ...(state.etag === undefined ? {} : { etag: state.etag }),
      ...(state.lastModified === undefined ? {} : { lastModified: state.lastModified }),
      ...(state.objectSize === undefined ? {} : { objectSize: state.objectSize }),
      ...(state.ranges === undefined ? {} : { ranges: state.ranges }),
    };
    this.#hasher.resumeFrom(this.#coverage);
    return this.#coverage.size;
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
  async #runSegments(segments: Iterable<Segment>, count: number): Promise<void> {
    // Taken one by one as requests end: the plan may be larger than memory (coverage.ts).
    const plan = segments[Symbol.iterator]();
    const first = plan.next();
    if (first.done) return;
    const second = plan.next();
    if (second.done) {
      // One request, no siblings to stop or to hold at a gate: most objects, and every small one,
      // whose round controller, listener and worker promises cost more than the rest of the setup.
      this.#lease?.keep(1);
      await this.#fetchWithRetry(first.value, this.#ctx.signal);
      return;
    }
    const round = new AbortController();
    // Each of up to maxConnectionsPerObject (16) requests listens to it: over EventTarget's ten,
    // Node would print a leak warning on the user's terminal.
    setMaxListeners(0, round.signal);
    const stop = () => round.abort(this.#ctx.signal.reason);
    this.#ctx.signal.addEventListener('abort', stop, { once: true });
    // Until one response shows whether Range is honoured, the other requests wait for it.
    let openGate!: () => void;
    const gate =
      this.#facts.ranges === undefined
        ? new Promise<void>((resolve) => {
            openGate = resolve;
          })
        : undefined;
    const fetchOne = async (segment: Segment, index: number) => {
      const opens = index === 0;
      try {
        if (!opens && gate) await gate;
        // The first request failed (or the run stopped) while this one waited at the gate.
        if (round.signal.aborted) return;
        await this.#fetchWithRetry(segment, round.signal, opens ? openGate : undefined);
      } catch (error) {
        // The other requests of the object stop: one failed segment fails the download.
        round.abort(error);
        throw error;
      } finally {
        if (opens) openGate?.();
      }
    };
    const width = Math.min(this.#ctx.maxConnectionsPerObject, count);
    this.#lease?.keep(width);
    try {
      await forEachLimit(andThen([first.value, second.value], plan), width, fetchOne, round.signal);
    } catch (error) {
      if (this.#ctx.signal.aborted) throw this.#ctx.signal.reason;
      throw error;
    } finally {
      this.#ctx.signal.removeEventListener('abort', stop);
    }
    if (this.#ctx.signal.aborted) throw this.#ctx.signal.reason;
  }

  async #fetchWithRetry(segment: Segment, signal: AbortSignal, onHeaders?: () => void): Promise<void> {
    const fragment = this.#fragment;
    for (let attempt = 1; ; attempt++) {
      const end = segment.end ?? this.#size;
      const start = Math.min(this.#coverage.contiguousEnd(segment.start), end ?? Number.POSITIVE_INFINITY);
      if (end !== undefined && start >= end) return;
      const endpoint = this.#choose();
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
        // At once: a kill in the first second still leaves the validators and the size.
        if (!this.#memory && this.#unsaved === undefined) void this.#save();
        onHeaders?.();
      };
      try {
        await this.#attempt({ endpoint, start, end, signal, onAnswer }, first);
        return;
      } catch (caught) {
        if (signal.aborted) throw signal.reason ?? caught;
        const { error, endpoint: failed } =
          caught instanceof LegFailure ? caught : { error: caught, endpoint };
        if (isFragfetchError(error, 'ECHANGED') && this.#otherMirror(failed)) {
          // That mirror's copy differs from the one being received: this object keeps to the
          // mirrors that agree, and starts over only when none is left.
          this.#mismatched.add(failed);
          attempt--;
          continue;
        }
        if (
          isFragfetchError(error, 'ECHANGED') ||
          (isFragfetchError(error, 'ERANGE') && error.status === 200)
        ) {
          throw error;
        }
        const wait = this.#nextAttempt(error, attempt, failed);
        if (wait === undefined) throw error;
        this.#ctx.events.retry(fragment, error, wait);
        slot.release();
        await delay(wait, signal);
      } finally {
        slot.release();
      }
    }
  }

  /**
   * One try at a segment: a request to `endpoint`, hedged to another mirror when the fragment has
   * one and no answer comes within the pool's hedging delay (hedge.ts). A hedged request takes no
   * slot of its own: it stands in for one that is not answering.
   */
  #attempt(leg: Omit<Leg, 'first' | 'hedge'>, first: FirstResponse | undefined): Promise<void> {
    if (first || this.#urls.length === 1) return this.#leg({ ...leg, ...(first ? { first } : {}) });
    const delayMs = this.#ctx.endpoints.hedgeDelayMs();
    return hedged({
      delayMs,
      signal: leg.signal,
      primary: leg.endpoint,
      alternate: () => this.#choose(leg.endpoint),
      lost: (endpoint) => lostHedge(this.#urls[endpoint]!, delayMs),
      send: (endpoint, hedge) => this.#leg({ ...leg, endpoint, hedge }),
    });
  }

  /** One request for [start, end) to one endpoint, told to the pool and to the run's statistics. */
  async #leg({ endpoint, start, end, signal, onAnswer, first, hedge }: Leg): Promise<void> {
    const fragment = this.#fragment;
    const url = this.#urls[endpoint]!;
    const pool = this.#ctx.endpoints;
    const began = first?.began ?? performance.now();
    const told = first?.told === true;
    const events = this.#ctx.events;
    pool.sent(url);
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
          onBytes: told ? () => {} : (bytes) => events.bytes(fragment, url, bytes),
          // Bytes in memory have no state to save: no timer per object.
          onWritten: this.#memory
            ? () => {}
            : (bytes) => {
                this.#written(bytes);
                this.#ctx.events.written?.(fragment, this.#partial.dataPath, this.#coverage.contiguousEnd(0));
              },
        },
        onAnswer: (response, facts) => {
          this.#facts = facts;
          outcome = response;
          this.#answered++;
          pool.answered(url, performance.now() - began);
          onAnswer(response);
        },
        ...(first ? { given: first.response } : {}),
        ...(hedge ? { claim: hedge.claim } : {}),
      });
    } catch (caught) {
      const ms = performance.now() - began;
      if (signal.aborted) {
        // Stopped with its round or the run: no one's failure, and not a request to count.
        pool.ended(url, { bytes: 0, ms, failed: false });
        throw new LegFailure(signal.reason ?? caught, endpoint);
      }
      // A hedge that lost: its endpoint's fault if it had not answered by then.
      const error = hedge?.signal.aborted ? hedge.signal.reason : caught;
      pool.ended(url, {
        bytes: 0,
        ms,
        failed: outcome === undefined ? isRetryable(error) : endpointFault(error),
      });
      const status = (isFragfetchError(error) ? error.status : undefined) ?? outcome?.status;
      if (!told) events.request({ fragment, url, status, range: outcome?.range, bytes: 0, ms, error });
      throw new LegFailure(error, endpoint);
    }
    this.#size ??= this.#facts.objectSize ?? start + outcome.bytes;
    this.#avoid = undefined;
    const ms = performance.now() - began;
    pool.ended(url, { bytes: outcome.bytes, ms, failed: false });
    if (!told) events.request({ fragment, url, ...outcome, ms });
  }

  /**
   * The endpoint for the next request: the pool's choice among the mirrors this fragment may still
   * use; after a failure (`avoid`), another one if there is any.
   */
  #choose(avoid?: number): number {
    const usable = (index: number) => !this.#deadEndpoints.has(index) && !this.#mismatched.has(index);
    return this.#ctx.endpoints.pick(this.#urls, usable, avoid ?? this.#avoid);
  }

  /**
   * Whether `endpoint` is another mirror than the one whose validators this object's bytes carry,
   * and some mirror that may agree is left: then its different copy is set aside, not restarted on.
   */
  #otherMirror(endpoint: number): boolean {
    const url = this.#facts.url;
    const urls = this.#urls;
    if (url === undefined || endpointOf(url) === endpointOf(urls[endpoint]!)) return false;
    return urls.some(
      (_, index) => index !== endpoint && !this.#deadEndpoints.has(index) && !this.#mismatched.has(index),
    );
  }

  /**
   * Decides what follows a failed request: another endpoint at once when this one cannot serve the
   * fragment (404, wrong size), a backoff when the failure is transient, or undefined to give up.
   */
  #nextAttempt(error: unknown, attempt: number, endpoint: number): number | undefined {
    const urls = this.#urls;
    const definitive =
      isFragfetchError(error, 'ESIZE') ||
      isFragfetchError(error, 'ERANGE') ||
      isFragfetchError(error, 'EENCODING') ||
      (isFragfetchError(error, 'EHTTP') && !isRetryable(error));
    if (definitive) this.#deadEndpoints.add(endpoint);
    if (urls.every((_, index) => this.#deadEndpoints.has(index))) return undefined;
    // The next request goes elsewhere if it can.
    this.#avoid = urls.length > 1 ? endpoint : undefined;
    if (definitive) return 0;
    return retryDelay(attempt, error, this.#ctx.retry, this.#ctx.random);
  }

  /** Drops every byte received: the object changed, it failed verification, or Range is not honoured. */
  async #restart(rangesIgnored: boolean): Promise<void> {
    this.#coverage.clear();
    this.#mismatched.clear();
    this.#hasher.reset();
    this.#facts = rangesIgnored ? { ranges: false } : {};
    this.#size = this.#fragment.size;
    await this.#file.truncate(0);
    await this.#save();
  }

  #written(bytes: number): void {
    this.#unsaved = (this.#unsaved ?? 0) + bytes;
    const budget = Math.max(LOSS_FLOOR_BYTES, LOSS_FRACTION * (this.#size ?? 0));
    if (this.#unsaved < budget / 4) return this.#scheduleSave();
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    void this.#save();
  }

  #scheduleSave(): void {
    if (this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      void this.#save();
    }, SAVE_INTERVAL_MS);
    this.#saveTimer.unref();
  }

  async #stopSaving(): Promise<void> {
    clearTimeout(this.#saveTimer);
    this.#saveTimer = undefined;
    await this.#saving;
  }

  /**
   * Saves are chained so that an older state never lands after a newer one, and one waiting to
   * start stands for any asked meanwhile: it reads the state when it runs.
   */
  #save(): Promise<void> {
    if (this.#saveQueued) return this.#saving;
    this.#saveQueued = true;
    this.#saving = this.#saving
      .then(() => {
        this.#saveQueued = false;
        this.#unsaved = 0;
        const state: PartialState = {
          version: 1,
          key: this.#key,
          ...this.#facts,
          ...(this.#size === undefined ? {} : { size: this.#size }),
          spans: [...this.#coverage.spans],
        };
        return this.#partial.save(state);
      })
      .catch(() => {});
    return this.#saving;
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

/**
 * Whether a request that failed after its answer says its endpoint is unwell (for its circuit
 * breaker): a body cut or stalled, a 5xx, a 429. A 404 or a wrong size is the fragment's, a hedge
 * that lost after it answered no one's.
 */
function endpointFault(error: unknown): boolean {
  return !isFragfetchError(error, 'ETIMEOUT') && isRetryable(error);
}

/** `taken` (items already pulled from `rest`), then what `rest` still holds, pulled lazily. */
function* andThen<T>(taken: readonly T[], rest: Iterator<T>): Generator<T> {
  yield* taken;
  for (let next = rest.next(); !next.done; next = rest.next()) yield next.value;
}
