import { Readable, Transform } from 'node:stream';
import type { FragmentBytes } from './fragment-bytes.js';

/** Bytes read from disk per push: as the cache's own reads, small against the reader's buffer. */
const READ_BYTES = 256 * 1024;

/**
 * One fragment's bytes in order while its ranges download in parallel, as a stream (FragmentBytes
 * says where they wait and when the end comes). Each chunk is a buffer of its own, the consumer's to
 * keep. Destroying the stream stops the download; its 'close' comes once that has wound down.
 */
export class FragmentReader extends Readable {
  readonly #bytes: FragmentBytes;
  #pulling = false;

  constructor(bytes: FragmentBytes) {
    super({ highWaterMark: 1024 * 1024 });
    this.#bytes = bytes;
    bytes.onFailure((error) => this.destroy(error));
  }

  override _read(): void {
    if (this.#pulling) return;
    this.#pulling = true;
    void this.#pull();
  }

  /** Pushes what is on disk beyond the position while the consumer wants more. */
  async #pull(): Promise<void> {
    try {
      for (;;) {
        const buffer = Buffer.allocUnsafe(READ_BYTES);
        const length = await this.#bytes.read(buffer);
        if (this.destroyed) return;
        if (length === 0) {
          this.push(null);
          return;
        }
        if (!this.push(length === buffer.length ? buffer : buffer.subarray(0, length))) return;
      }
    } catch (error) {
      this.destroy(error as Error);
    } finally {
      this.#pulling = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.#bytes.close().then(() => callback(error));
  }
}

/**
 * Overlapping windows of a byte stream, as streaming consumers of tensors want: each chunk is
 * `window` bytes, the next starts `stride` bytes later; the last may be shorter, and is given only
 * when it holds bytes no earlier window did.
 */
export function windows(window: number, stride: number): Transform {
  let held: Buffer = Buffer.alloc(0);
  /** Bytes at the start of `held` that the last window already gave. */
  let given = 0;
  /** Bytes still to pass over before the next window starts (a stride longer than what is held). */
  let skip = 0;
  return new Transform({
    // Each window is one chunk for the reader: a byte stream would join them.
    readableObjectMode: true,
    transform(chunk: Buffer, _encoding, callback) {
      let data = chunk;
      if (skip > 0) {
        const passed = Math.min(skip, data.length);
        data = data.subarray(passed);
        skip -= passed;
      }
      held = held.length === 0 ? data : Buffer.concat([held, data]);
      while (held.length >= window) {
        this.push(Buffer.from(held.subarray(0, window)));
        if (stride >= held.length) {
          skip = stride - held.length;
          held = Buffer.alloc(0);
          given = 0;
        } else {
          held = held.subarray(stride);
          given = Math.max(0, window - stride);
        }
      }
      callback();
    },
    flush(callback) {
      if (held.length > given) this.push(Buffer.from(held));
      callback();
    },
  });
}
