import type { Fragment } from '../manifest/fragment.js';
import { HeldSlot, type SlotLease } from '../schedule/slot-lease.js';
import { judgeResponse, type ObjectFacts } from './acceptance.js';
import type { DownloadContext } from './context.js';
import {
  type DownloadResult,
  type FirstResponse,
  ObjectDownload,
  type ObjectDownloadOptions,
} from './object-download.js';

const NO_HEADERS: Record<string, string> = {};
const NO_FACTS: ObjectFacts = {};

/** A small object's download: into `memory`, with no partial state (its key is unused). */
export type SmallDownloadOptions = Omit<ObjectDownloadOptions, 'key' | 'first' | 'memory'> & {
  memory: Buffer;
};

/**
 * Downloads a small whole object into `memory` on a short path: one request, and when its answer is
 * plain — a 200 of exactly the declared length, received whole — a WholeAnswer, with none of
 * ObjectDownload's rounds, segments, coverage, retry loop and sinks: set up per object, they cost a
 * tenth of a run of many small objects (bench/README.md). Its bytes are not verified yet: the store
 * hashes and checks them as it stores them (CacheStore.checkAndInsert), off the main thread.
 *
 * Any other answer goes to ObjectDownload as the answer to its own first request (`first`), which
 * it is — the same URL, no Range, the same memory, the same slot — so a failure, a short body or a
 * wrong length is checked, counted, retried and resumed exactly as for every object; so do bytes the
 * store finds wrong (WholeAnswer.handOver). The answer is judged by the rules every answer is
 * (acceptance.ts), the bytes by those all bytes are (integrity.ts); only a whole body received whole
 * is taken here.
 */
export async function downloadSmallWhole(
  options: SmallDownloadOptions,
  lease: SlotLease,
): Promise<DownloadResult | WholeAnswer> {
  const { fragment, ctx } = options;
  const size = fragment.size;
  const urls = fragment.urls; // made anew at each read, maybe (resolve.ts)
  // The short request is made in the slot leased for it; without one, ObjectDownload acquires its own.
  const slot = size !== undefined && takesShortPath(fragment, urls, ctx) ? lease.take() : undefined;
  if (size === undefined || slot === undefined) {
    return new ObjectDownload({ ...options, key: '' }).run(lease);
  }
  const url = urls[0]!;
  const inPlace = options.memory.subarray(0, size);
  const began = performance.now();
  const answer = ctx.http.requestInPlace(url, NO_HEADERS, ctx.signal, inPlace);
  // The request goes over with the slot it holds: ObjectDownload releases it when the request ends.
  const handOver = () =>
    new ObjectDownload({ ...options, key: '', first: { response: answer, began, slot } }).run();
  let response: Awaited<typeof answer>;
  try {
    response = await answer;
  } catch {
    return handOver();
  }
  // The rules of every answer (acceptance.ts), for the request ObjectDownload would have made first;
  // in place means the transport found a Content-Length that fits the buffer.
  const verdict = judgeResponse(
    { url, start: 0, end: size, objectOffset: 0, isRange: false, declaredSize: size, range: undefined },
    NO_FACTS,
    response,
  );
  if (verdict.kind !== 'whole' || !('inPlace' in response)) return handOver();
  const { inPlace: body } = response;
  try {
    await body.done;
  } catch {
    return handOver();
  }
  if (body.received !== size) return handOver();
  slot.release();
  // Told as they arrive, as every request's are: the run's bandwidth and `-j auto` judge arrival.
  ctx.events.bytes(fragment, url, size);
  ctx.events.request({
    fragment,
    url,
    status: 200,
    range: undefined,
    bytes: size,
    ms: performance.now() - began,
  });
  return new WholeAnswer(options, { url, began, answer, bytes: inPlace, ...verdict.facts });
}

/**
 * A small object's body received whole on the short path (downloadSmallWhole), its request over,
 * told to the run and its slot given back, its bytes not yet verified: the store checks them as it
 * stores them; bytes it finds wrong go to ObjectDownload (`handOver`).
 */
export class WholeAnswer {
  readonly url: string;
  readonly bytes: Buffer;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
  readonly #options: SmallDownloadOptions;
  readonly #began: number;
  readonly #answer: FirstResponse['response'];

  constructor(
    options: SmallDownloadOptions,
    received: {
      url: string;
      began: number;
      answer: FirstResponse['response'];
      bytes: Buffer;
      etag?: string | undefined;
      lastModified?: string | undefined;
    },
  ) {
    this.#options = options;
    this.url = received.url;
    this.bytes = received.bytes;
    this.etag = received.etag;
    this.lastModified = received.lastModified;
    this.#began = received.began;
    this.#answer = received.answer;
  }

  /**
   * The bytes did not match the fragment's integrity: ObjectDownload takes the answer as that of its
   * own first request, in a slot of its own, and checks and retries it as any other (told once).
   */
  async handOver(): Promise<DownloadResult> {
    const { ctx, rank } = this.#options;
    const slot = await HeldSlot.acquire(ctx.slots, rank, ctx.signal);
    return new ObjectDownload({
      ...this.#options,
      key: '',
      first: { response: this.#answer, began: this.#began, slot, told: true },
    }).run();
  }
}

/**
 * Whether ObjectDownload's first request for the fragment would be the short path's: the whole
 * object from byte 0 of its only URL, in one request, into memory, with no rate limit to pace it.
 * (For an object declared empty it makes none.)
 */
function takesShortPath(fragment: Fragment, urls: readonly string[], ctx: DownloadContext): boolean {
  const size = fragment.size;
  // One URL: with mirrors, the pool picks each request's endpoint and may hedge it (object-download.ts).
  return (
    urls.length === 1 &&
    size !== undefined &&
    size > 0 &&
    fragment.offset === undefined &&
    size <= ctx.splitThreshold &&
    !ctx.limiter
  );
}
