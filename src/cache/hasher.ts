import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { Coverage } from '../net/coverage.js';

const READ_BLOCK = 4 * 1024 * 1024;

/**
 * Hashes a file that is written out of order, in one pass, while it is being written.
 *
 * Bytes written exactly at the hashed frontier are hashed from memory as they land; bytes written
 * further on (parallel segments, or what a previous run left on disk) are read back — from the page
 * cache, as a rule — once the frontier reaches them. Nothing is downloaded twice to be verified.
 *
 *   file:   [ hashed ][ frontier segment → ][  hole  ][ segment done, waiting ][ hole ]
 *                    ^ hashed               ^ pump stops here until the hole is filled
 */
export class ProgressiveHasher {
  readonly algorithms: readonly string[];
  #file: FileHandle;
  #hashes: Hash[];
  #hashed = 0;
  #pending = new Coverage();
  #pump: Promise<void> | undefined;
  #generation = 0;
  #failure: unknown;

  constructor(file: FileHandle, algorithms: readonly string[]) {
    this.#file = file;
    this.algorithms = algorithms;
    this.#hashes = algorithms.map((algorithm) => createHash(algorithm));
  }

  get hashed(): number {
    return this.#hashed;
  }

  /** Reports bytes that are now on disk at `offset`; `chunks` are those bytes, if still at hand. */
  written(offset: number, length: number, chunks?: readonly Buffer[]): void {
    if (length === 0) return;
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
    this.#kick();
  }

  /** Waits until `total` bytes are hashed and returns the digests (base64), by algorithm. */
  async digests(total: number): Promise<Map<string, string>> {
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

  /** Forgets everything: the file is being restarted from byte 0. */
  reset(): void {
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
