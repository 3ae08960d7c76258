import { createHash, type Hash, randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { displayUrl, FragfetchError, isFragfetchError } from '../errors.js';
import type { Fragment } from '../manifest/fragment.js';
import { delay } from '../net/delay.js';
import type { HttpResponse } from '../net/http.js';
import { isRetryable, parseRetryAfter, retryDelay } from '../net/retry.js';
import type { DownloadEvents } from './context.js';
import { entryMetadata, settleFailed } from './download-group.js';
import type { JobContext } from './job.js';
import { hashAlgorithms, integrityError, matchesIntegrity } from './integrity.js';
import type { PendingGroup } from './range-probes.js';
import { RequestTally } from './request-tally.js';
import { strongEtag } from './acceptance.js';

const TEMP_PREFIX = `cut-${process.pid}-${randomBytes(4).toString('hex')}`;
let tempCounter = 0;

/**
 * Every wanted byte-range fragment of one object whose server ignores Range, cut out of one GET of
 * the whole object: each window is written to its own file as the stream passes it, hashed in
 * order, verified and put in the cache, and the stream is given up after the last window. A failed
 * pass is retried (with backoff, failing over between endpoints) for the windows not yet done; each
 * window's bytes always come from one response, so versions are never spliced within a fragment.
 * Nothing is resumable from such a server: no partial state, no lock (as for small objects). No
 * `written` events either: a window may be rewritten from a later response, so a reader of the
 * fragment (loader `read`) gets its bytes once they are verified and cached.
 */
export async function cutObject(members: readonly PendingGroup[], job: JobContext): Promise<void> {
  const { ctx } = job;
  const urls = members[0]!.group[0]!.urls;
  const rank = Math.min(...members.map((member) => member.rank));
  const all = members.map((member) => new Cut(member, job)).sort((a, b) => a.start - b.start);
  let cuts = all;
  const dead = new Set<number>();
  const integrityRetried = new Set<Cut>();
  let avoid: number | undefined;
  try {
    await mkdir(join(job.store.dir, 'partial'), { recursive: true });
    for (let attempt = 1; cuts.length > 0; attempt++) {
      const endpoint = ctx.endpoints.pick(urls, (index) => !dead.has(index), avoid);
      const url = urls[endpoint]!;
      const release = await ctx.slots.acquire(rank, ctx.signal);
      const pass = new Pass(cuts, url, job);
      const tally = new RequestTally(ctx, cuts[0]!.fragment, url);
      let failure: unknown;
      try {
        await pass.run();
      } catch (error) {
        failure = error;
      } finally {
        release();
      }
      if (ctx.signal.aborted) {
        tally.stopped(pass.received);
        return;
      }
      tally.ended({
        status: pass.status,
        range: undefined,
        bytes: pass.received,
        error: failure,
        failed: failure !== undefined && isRetryable(failure),
      });
      // Windows that failed verification get one clean retry, as ObjectDownload gives a fragment.
      for (const cut of pass.corrupt) {
        cut.settled = integrityRetried.has(cut);
        if (cut.settled) settleFailed(cut.group, cut.integrityError(), job);
        integrityRetried.add(cut);
      }
      cuts = cuts.filter((cut) => !cut.settled);
      if (cuts.length === 0) return;
      if (failure === undefined) {
        ctx.events.retry(cuts[0]!.fragment, cuts[0]!.integrityError(), 0);
        continue;
      }
      const definitive =
        isFragfetchError(failure, 'ESIZE') || (isFragfetchError(failure, 'EHTTP') && !isRetryable(failure));
      if (definitive) dead.add(endpoint);
      const alive = urls.map((_, i) => i).filter((i) => !dead.has(i));
      const wait =
        alive.length === 0 ? undefined : definitive ? 0 : retryDelay(attempt, failure, ctx.retry, ctx.random);
      if (wait === undefined) {
        for (const cut of cuts) settleFailed(cut.group, failure, job);
        return;
      }
      avoid = endpoint;
      ctx.events.retry(cuts[0]!.fragment, failure, wait);
      await delay(wait, ctx.signal);
    }
  } catch (error) {
    // An abort leaves the fragments unsettled, as every download does; anything else fails them.
    if (!ctx.signal.aborted) for (const cut of cuts) if (!cut.settled) settleFailed(cut.group, error, job);
  } finally {
    // Every temporary file not moved into the cache: failed windows' too.
    await Promise.all(all.map((cut) => cut.discard()));
  }
}

/** One GET of the whole object, feeding each window as the stream passes it. */
class Pass {
  status: number | undefined;
  received = 0;
  readonly corrupt: Cut[] = [];
  readonly #cuts: readonly Cut[];
  readonly #url: string;
  readonly #job: JobContext;

  constructor(cuts: readonly Cut[], url: string, job: JobContext) {
    this.#cuts = cuts;
    this.#url = url;
    this.#job = job;
  }

  async run(): Promise<void> {
    const { ctx } = this.#job;
    const url = this.#url;
    const response = await ctx.http.request('GET', url, {}, ctx.signal);
    this.status = response.status;
    const stores: Promise<void>[] = [];
    try {
      const objectSize = checkWhole(response, url);
      const wanted: Cut[] = [];
      for (const cut of this.#cuts) {
        if (objectSize !== undefined && cut.end > objectSize) {
          const error = new FragfetchError(
            'ESIZE',
            `GET ${displayUrl(url)}: the object has ${objectSize} bytes, the manifest says at least ${cut.end}`,
            { url, expected: cut.end, found: objectSize },
          );
          settleFailed(cut.group, error, this.#job);
          cut.settled = true;
        } else wanted.push(cut);
      }
      for (const cut of wanted) await cut.reset();
      const validators = {
        etag: strongEtag(response.headers.etag),
        lastModified: response.headers['last-modified'],
      };
      const last = Math.max(0, ...wanted.map((cut) => cut.end));
      // An empty window is complete before the first byte (and the body may have none).
      for (const cut of wanted) if (cut.size === 0) stores.push(this.#finish(cut, url, validators));
      const streamed = wanted.filter((cut) => cut.size > 0);
      let next = 0;
      let active: Cut[] = [];
      let position = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        this.received += chunk.length;
        if (ctx.limiter) await ctx.limiter.take(chunk.length, ctx.signal);
        const end = position + chunk.length;
        while (next < streamed.length && streamed[next]!.start < end) active.push(streamed[next++]!);
        for (const cut of active) await cut.write(chunk, position, url);
        position = end;
        const done = active.filter((cut) => cut.end <= position);
        if (done.length > 0) {
          active = active.filter((cut) => cut.end > position);
          for (const cut of done) stores.push(this.#finish(cut, url, validators));
        }
        if (position >= last) break;
      }
      if (position < last) {
        throw new FragfetchError(
          'ENETWORK',
          `GET ${displayUrl(url)}: body ended after ${position} bytes, before the fragments' last byte at ${last}`,
          { url, expected: last, found: position },
        );
      }
    } finally {
      if (!response.body.readableEnded) response.body.destroy();
      await Promise.all(stores);
    }
  }

  async #finish(
    cut: Cut,
    url: string,
    validators: { etag?: string | undefined; lastModified?: string | undefined },
  ) {
    const { store, stats, observer, manifest } = this.#job;
    const { sha256, matches } = await cut.close();
    if (!matches) {
      this.corrupt.push(cut);
      return;
    }
    const fragment = cut.fragment;
    try {
      await store.insertFile(
        fragment,
        cut.path,
        sha256,
        cut.size,
        entryMetadata(fragment, url, validators, manifest),
      );
    } catch (error) {
      settleFailed(cut.group, error, this.#job);
      cut.settled = true;
      return;
    }
    cut.stored = true;
    cut.settled = true;
    for (const member of cut.group) {
      stats.downloaded(member, cut.size, 0);
      observer.settled?.(member, 'downloaded');
    }
  }
}

/** A 200 with the whole body, in identity coding; returns the object's length when declared. */
function checkWhole(response: HttpResponse, url: string): number | undefined {
  const { status, headers } = response;
  if (status !== 200) {
    throw new FragfetchError('EHTTP', `GET ${displayUrl(url)}: HTTP ${status}`, {
      url,
      status,
      retryAfterMs: parseRetryAfter(headers['retry-after']),
    });
  }
  const coding = headers['content-encoding'];
  if (coding !== undefined && coding !== 'identity') {
    throw new FragfetchError('EHTTP', `GET ${displayUrl(url)}: body sent with Content-Encoding ${coding}`, {
      url,
      status,
    });
  }
  const length = headers['content-length'];
  return length === undefined ? undefined : Number(length);
}

/** One fragment's window: its temporary file and its hashes, fed in order. */
class Cut {
  readonly group: Fragment[];
  readonly fragment: Fragment;
  readonly start: number;
  readonly end: number;
  readonly size: number;
  readonly path: string;
  settled = false;
  stored = false;
  readonly #algorithms: string[];
  #hashes = new Map<string, Hash>();
  #handle: FileHandle | undefined;
  #written = 0;
  #found: Map<string, string> | undefined;
  readonly #events: DownloadEvents;

  constructor(member: PendingGroup, job: JobContext) {
    this.group = member.group;
    this.fragment = member.group[0]!;
    this.start = this.fragment.offset ?? 0;
    this.size = this.fragment.size ?? 0;
    this.end = this.start + this.size;
    this.path = join(job.store.dir, 'partial', `${TEMP_PREFIX}-${++tempCounter}`);
    this.#algorithms = hashAlgorithms(this.fragment);
    this.#events = job.ctx.events;
  }

  async reset(): Promise<void> {
    await this.#handle?.close();
    this.#handle = await open(this.path, 'w');
    this.#hashes = new Map(this.#algorithms.map((algorithm) => [algorithm, createHash(algorithm)]));
    this.#written = 0;
  }

  /** Writes the part of `chunk` (at `position` of the object) that falls in the window. */
  async write(chunk: Buffer, position: number, url: string): Promise<void> {
    const from = Math.max(this.start, position);
    const to = Math.min(this.end, position + chunk.length);
    if (to <= from) return;
    const slice = chunk.subarray(from - position, to - position);
    await this.#handle!.write(slice, 0, slice.length, from - this.start);
    for (const hash of this.#hashes.values()) hash.update(slice);
    this.#written += slice.length;
    this.#events.bytes(this.fragment, url, slice.length);
  }

  async close(): Promise<{ sha256: string; matches: boolean }> {
    await this.#handle?.close();
    this.#handle = undefined;
    const digests = new Map(
      [...this.#hashes].map(([algorithm, hash]) => [algorithm, hash.digest('base64')] as const),
    );
    this.#found = digests;
    const matches = this.#written === this.size && matchesIntegrity(this.fragment, digests);
    return { sha256: digests.get('sha256')!, matches };
  }

  integrityError(): FragfetchError {
    return integrityError(this.fragment, this.#found ?? new Map());
  }

  async discard(): Promise<void> {
    await this.#handle?.close().catch(() => {});
    this.#handle = undefined;
    if (!this.stored) await rm(this.path, { force: true });
  }
}
