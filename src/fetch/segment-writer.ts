import { isDiskFull } from '../cache/disk-full.js';
import { FragfetchError } from '../errors.js';
import { delay } from '../net/delay.js';
import { toNetworkError } from '../net/network-error.js';
import type { BodySink } from '../net/response-body.js';
import type { SegmentSink } from './segment.js';

/**
 * Bytes gathered before one positional write: each write is a round trip to libuv's thread pool
 * and each batch a message to the hash worker (both wake another thread, which on a busy machine
 * takes the main thread's core), so fewer is cheaper; but each connection holds up to two batches,
 * and at 1 MiB sixteen https connections took the peak RSS near the 200 MiB the bench allows.
 */
export const WRITE_BATCH = 512 * 1024;

/** Which bytes of a body are the segment's: `skip` of them first, then up to `windowEnd` from `start`. */
export interface SegmentWindow {
  skip: number;
  start: number;
  windowEnd: number | undefined;
}

export interface Written {
  bytes: number;
  /** The body ran past `windowEnd` (what followed was dropped). */
  overflow: boolean;
}

/**
 * A streamed body written into the data file as undici hands it over (a BodySink, see
 * response-handler.ts): chunks are gathered into batches, each one positional `writev`. While a batch
 * is written the next one gathers; the body is paused only when that one is full too, or while the
 * rate limiter holds it.
 *
 *   onResponseData → data() → [ gathering ] → writev → coverage, hasher (chunks moved), onWritten
 *                                  full while a write runs: paused until it lands
 *
 * What arrived intact is kept after a failure of the body (written, then the failure is thrown):
 * the retry resumes after it.
 */
export class SegmentWriter implements BodySink {
  readonly done: Promise<Written>;
  #settle!: { resolve(written: Written): void; reject(error: unknown): void };
  readonly #sink: SegmentSink;
  readonly #url: string;
  readonly #start: number;
  readonly #windowEnd: number | undefined;
  #skip: number;
  #resume: () => void = () => {};

  /** The file offset after the last byte taken (gathered or being written). */
  #taken: number;
  /** The file offset after the last byte written: where the next write goes. */
  #written: number;
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #writing = false;
  #limited = false;
  #paused = false;
  #ended = false;
  #overflow = false;
  #failure: { error: unknown } | undefined;
  #settled = false;

  constructor(window: SegmentWindow, sink: SegmentSink, url: string) {
    this.#sink = sink;
    this.#url = url;
    this.#start = window.start;
    this.#windowEnd = window.windowEnd;
    this.#skip = window.skip;
    this.#taken = window.start;
    this.#written = window.start;
    this.done = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // It may fail before its reader awaits it (within the divert, or between writes): not unhandled.
    this.done.catch(() => {});
  }

  /** `resume`: restarts the body after `data` returned false (`ResponseBody.divert`'s answer). */
  attach(resume: () => void): void {
    this.#resume = resume;
    this.#advance();
  }

  data(received: Buffer): boolean {
    if (this.#ended || this.#overflow || this.#failure) return false;
    let chunk = received;
    if (this.#skip > 0) {
      if (chunk.length <= this.#skip) {
        this.#skip -= chunk.length;
        return true;
      }
      chunk = chunk.subarray(this.#skip);
      this.#skip = 0;
    }
    const windowEnd = this.#windowEnd;
    if (windowEnd !== undefined && this.#taken + chunk.length > windowEnd) {
      chunk = chunk.subarray(0, windowEnd - this.#taken);
      this.#overflow = true;
    }
    if (chunk.length > 0) this.#take(chunk);
    if (this.#overflow || this.#batchBytes >= WRITE_BATCH) this.#advance();
    // Past the window nothing more is wanted: the caller gives the rest of the body up.
    this.#paused = this.#overflow || !this.#wantsMore();
    return !this.#paused;
  }

  end(): void {
    this.#ended = true;
    this.#advance();
  }

  error(error: Error): void {
    this.#failure ??= { error };
    this.#advance();
  }

  #take(chunk: Buffer): void {
    const sink = this.#sink;
    sink.onBytes(chunk.length);
    this.#batch.push(chunk);
    this.#batchBytes += chunk.length;
    this.#taken += chunk.length;
    const wait = sink.limiter?.reserve(chunk.length) ?? 0;
    if (wait <= 0) return;
    this.#limited = true;
    delay(wait, sink.signal).then(
      () => {
        this.#limited = false;
        this.#advance();
      },
      (error: unknown) => this.error(error as Error),
    );
  }

  #wantsMore(): boolean {
    return !this.#limited && !(this.#writing && this.#batchBytes >= WRITE_BATCH);
  }

  /** The one driver: starts the next write, settles once everything is written, or resumes the body. */
  #advance(): void {
    if (this.#settled) return;
    const finishing = this.#ended || this.#overflow || this.#failure !== undefined;
    if (!this.#writing && this.#batchBytes > 0 && (finishing || this.#batchBytes >= WRITE_BATCH)) {
      this.#writing = true;
      this.#write().then(
        () => {
          this.#writing = false;
          this.#advance();
        },
        (error: unknown) => {
          this.#writing = false;
          // A failed write ends the segment; what is gathered is not written after it.
          this.#batch = [];
          this.#batchBytes = 0;
          this.#failure ??= { error };
          this.#advance();
        },
      );
    }
    if (finishing) {
      if (this.#writing) return;
      this.#settled = true;
      if (this.#failure)
        this.#settle.reject(toNetworkError(this.#failure.error, this.#url, this.#sink.signal));
      else this.#settle.resolve({ bytes: this.#written - this.#start, overflow: this.#overflow });
    } else if (this.#paused && this.#wantsMore()) {
      this.#paused = false;
      this.#resume();
    }
  }

  async #write(): Promise<void> {
    const sink = this.#sink;
    const chunks = this.#batch;
    const length = this.#batchBytes;
    const position = this.#written;
    this.#batch = [];
    this.#batchBytes = 0;
    let bytesWritten: number;
    try {
      ({ bytesWritten } = await sink.file.writev(chunks, position));
    } catch (error) {
      throw writeError(error);
    }
    // A regular file takes a short write only when it can take no more: the disk is full.
    if (bytesWritten !== length)
      throw writeError(
        Object.assign(new Error(`short write: ${bytesWritten} of ${length} bytes`), { code: 'ENOSPC' }),
      );
    sink.coverage.add(position, position + length);
    sink.hasher.written(position, length, chunks);
    this.#written = position + length;
    sink.onWritten(length);
  }
}

/** A failed write of the partial file is the disk's failure, never the network's (object-download.ts names the folder). */
function writeError(error: unknown): FragfetchError {
  const code = isDiskFull(error) ? 'ENOSPC' : 'ECACHE';
  return new FragfetchError(code, `cannot write the partial download: ${(error as Error).message}`, {
    cause: error,
  });
}
