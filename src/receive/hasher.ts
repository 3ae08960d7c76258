import { createHash, type Hash, hash } from 'node:crypto';
import { Coverage } from '../fetch/coverage.js';
import type { DataFile } from './data-file.js';
import { type HashJob, openHashJob } from './hash-pool.js';

const READ_BLOCK = 4 * 1024 * 1024;

/**
 * Files at least this large are hashed by a worker (see hash-pool.ts); smaller ones from memory on
 * the main thread, where a message round trip would cost more than the hash.
 */
export const OFFLOAD_MIN_BYTES = 2 * 1024 * 1024;

export interface HasherOptions {
  /** The file's path, for a worker to read it back; without it everything is hashed here. */
  path?: string;
  /** Expected size, when known: small files are hashed here. */
  size?: number;
}

/** What a download tells its hasher, and asks of it. */
export interface FileHasher {
  written(offset: number, length: number, chunks?: readonly Buffer[]): void;
  resumeFrom(spans: Coverage): void;
  digests(total: number): Promise<Map<string, string>>;
  reset(): void;
  dispose(): void;
}

/** Base64 digests of `bytes` by algorithm, one `crypto.hash` call each. */
export function hashWhole(bytes: Buffer, algorithms: readonly string[]): Map<string, string> {
  return new Map(algorithms.map((algorithm) => [algorithm, hash(algorithm, bytes, 'base64')]));
}

/**
 * Hashes a small object held whole in memory (data-file.ts `MemoryFile`) in one call per algorithm
 * when the digests are asked for: no Hash object and no update per read, nor their garbage, which
 * thousands of small objects would each pay on the main thread.
 */
export class WholeHasher implements FileHasher {
  readonly #bytes: () => Buffer;
  readonly #algorithms: readonly string[];

  /** `bytes`: the object's bytes so far, from its first. */
  constructor(bytes: () => Buffer, algorithms: readonly string[]) {
    this.#bytes = bytes;
    this.#algorithms = algorithms;
  }

  written(): void {}

  resumeFrom(): void {}

  async digests(total: number): Promise<Map<string, string>> {
    const bytes = this.#bytes();
    if (bytes.length < total) {
      throw new Error(`hashed ${bytes.length} of ${total} bytes: a hole remained in the file`);
    }
    return hashWhole(bytes.subarray(0, total), this.#algorithms);
  }

  reset(): void {}

  dispose(): void {}
}

/**
 * Hashes a file that is written out of order, in one pass, while it is being written.
 *
 * Bytes written exactly at the hashed frontier are hashed from memory as they land; bytes written
 * further on (parallel segments, or what a previous run left on disk) are read back — from the page
 * cache, as a rule — once the frontier reaches them. Nothing is downloaded twice to be verified.
 *
 *   file:   [ hashed ][ frontier segment → ][  hole  ][ segment done, waiting ][ hole ]
 *                    ^ hashed               ^ pump stops here until the hole is filled
 *
 * Large files (`OFFLOAD_MIN_BYTES`) are hashed by a worker instead: the same frontier, but every span
 * that joins it goes to the worker — as the received chunks themselves when they can be moved, else
 * as a range it reads back — and is hashed off the main thread.
 */
export class ProgressiveHasher implements FileHasher {
  readonly algorithms: readonly string[];
  #file: DataFile;
  #hashes: Hash[];
  #hashed = 0;
  #pending = new Coverage();
  #pump: Promise<void> | undefined;
  #generation = 0;
  #failure: unknown;
  /** Set in worker mode; the job is replaced after a digest or a reset. */
  #path: string | undefined;
  #job: HashJob | undefined;
  /** Worker mode: the digests of the job that was closed by `digests`, until a reset. */
  #digested: Promise<string[]> | undefined;

  constructor(file: DataFile, algorithms: readonly string[], options: HasherOptions = {}) {
    this.#file = file;
    this.algorithms = algorithms;
    this.#hashes = algorithms.map((algorithm) => createHash(algorithm));
    const offload = options.path !== undefined && (options.size ?? Infinity) >= OFFLOAD_MIN_BYTES;
    // No worker to be had (a restricted runtime): everything is hashed here, as for small files.
    this.#job = offload ? openHashJob(options.path!, algorithms) : undefined;
    this.#path = this.#job ? options.path : undefined;
  }

  /**
   * Reports bytes that are now on disk at `offset`; `chunks` are those bytes, if still at hand. In
   * worker mode, chunks at the frontier are handed over to the worker (moved, not copied) when each
   * owns its whole memory; the caller must not touch them afterwards.
   */
  written(offset: number, length: number, chunks?: readonly Buffer[]): void {
    if (length === 0) return;
    if (this.#path !== undefined) {
      this.#send();
      if (chunks && offset === this.#hashed && this.#job?.transfer(chunks)) {
        this.#hashed += length;
        this.#send();
        return;
      }
      this.#pending.add(offset, offset + length);
      this.#send();
      return;
    }
    if (chunks && this.#pump === undefined && offset === this.#hashed) {
      for (const chunk of chunks) for (const hash of this.#hashes) hash.update(chunk);
      this.#hashed += length;
    } else {
      this.#pending.add(offset, offset + length);
    }
    this.#kick();
  }

  /** Bytes already on disk from an earlier run: hashed by reading them back. */
  resumeFrom(spans: Coverage): void {
    for (const span of spans.spans) this.#pending.add(span.start, span.end);
    if (this.#path !== undefined) this.#send();
    else this.#kick();
  }

  /** Worker mode: hands what joined the frontier to the worker, which hashes in the order sent. */
  #send(): void {
    const end = this.#pending.contiguousEnd(this.#hashed);
    if (end <= this.#hashed) return;
    if (!this.#job) throw new Error('bytes written after the digest, without a reset');
    this.#job.update(this.#hashed, end - this.#hashed);
    this.#hashed = end;
  }

  /** Waits until `total` bytes are hashed and returns the digests (base64), by algorithm. */
  async digests(total: number): Promise<Map<string, string>> {
    if (this.#path !== undefined) return this.#workerDigests(total);
    this.#kick();
    while (this.#pump) await this.#pump;
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#hashed !== total) {
      throw new Error(`hashed ${this.#hashed} of ${total} bytes: a hole remained in the file`);
    }
    const out = new Map<string, string>();
    this.algorithms.forEach((algorithm, i) => {
      out.set(algorithm, this.#hashes[i]!.digest('base64'));
    });
    return out;
  }

  async #workerDigests(total: number): Promise<Map<string, string>> {
    this.#send();
    if (this.#hashed !== total) {
      throw new Error(`hashed ${this.#hashed} of ${total} bytes: a hole remained in the file`);
    }
    const job = this.#job;
    this.#job = undefined;
    if (job) this.#digested = job.digest();
    if (!this.#digested) throw new Error('no hash job: digests after a dispose');
    const digests = await this.#digested;
    return new Map(this.algorithms.map((algorithm, i) => [algorithm, digests[i]!]));
  }

  /** Frees the worker's side of an abandoned file; a later `reset` starts afresh. */
  dispose(): void {
    this.#job?.close();
    this.#job = undefined;
  }

  /** Forgets everything: the file is being restarted from byte 0. */
  reset(): void {
    if (this.#path !== undefined) {
      this.dispose();
      this.#digested = undefined;
      this.#job = openHashJob(this.#path, this.algorithms);
      if (!this.#job) this.#path = undefined;
    }
    this.#generation++;
    this.#hashes = this.algorithms.map((algorithm) => createHash(algorithm));
    this.#hashed = 0;
    this.#pending.clear();
    this.#pump = undefined;
    this.#failure = undefined;
  }

  #kick(): void {
    if (this.#pump !== undefined || this.#pending.contiguousEnd(this.#hashed) <= this.#hashed) return;
    const generation = this.#generation;
    this.#pump = this.#readBack(generation)
      .catch((error: unknown) => {
        if (generation === this.#generation) this.#failure = error;
      })
      .finally(() => {
        if (generation !== this.#generation) return;
        this.#pump = undefined;
        this.#kick();
      });
  }

  async #readBack(generation: number): Promise<void> {
    const buffer = Buffer.allocUnsafe(READ_BLOCK);
    for (;;) {
      const end = this.#pending.contiguousEnd(this.#hashed);
      if (end <= this.#hashed) return;
      const length = Math.min(READ_BLOCK, end - this.#hashed);
      const { bytesRead } = await this.#file.read(buffer, 0, length, this.#hashed);
      if (generation !== this.#generation) return;
      if (bytesRead !== length) throw new Error(`short read at ${this.#hashed}: ${bytesRead} of ${length}`);
      const view = buffer.subarray(0, bytesRead);
      for (const hash of this.#hashes) hash.update(view);
      this.#hashed += bytesRead;
    }
  }
}
