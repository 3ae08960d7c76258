import { type FileHandle, open } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';

/** Bytes read from disk per push: as the cache's own reads, small against the reader's buffer. */
const READ_BYTES = 256 * 1024;

/**
 * One fragment's bytes in order while its ranges download in parallel. Ranges that arrive ahead of
 * the reader wait where the engine writes them, in the fragment's partial file: that file is the
 * reorder buffer, so memory holds no more than the stream's own buffer. What the reader has is told
 * by the run (`written`, `settled`, `failed`); the end is pushed only once the whole fragment was
 * verified and cached, so a reader that sees the end saw verified bytes — and one that sees an
 * EINTEGRITY error must drop what it got.
 */
export class FragmentReader extends Readable {
  readonly #onDestroy: () => Promise<void>;
  #partial: { path: string; handle: Promise<FileHandle> } | undefined;
  #final: { size: number; handle: Promise<FileHandle> } | undefined;
  #readyTo = 0;
  #position = 0;
  #wanted = false;
  #pumping = false;

  /**
   * `onDestroy`: stops the download when the reader is given up, resolving once it has wound down —
   * the stream's 'close' comes after, so nothing of the run is still writing then.
   */
  constructor(onDestroy: () => Promise<void>) {
    super({ highWaterMark: 1024 * 1024 });
    this.#onDestroy = onDestroy;
  }

  /** Bytes [0, readyTo) are on disk in the partial file `path`. */
  written(path: string, readyTo: number): void {
    if (this.#partial?.path !== path) this.#partial = { path, handle: open(path, 'r') };
    this.#readyTo = Math.max(this.#readyTo, readyTo);
    void this.#pump();
  }

  /**
   * The download starts over (the object changed, or failed its integrity): bytes already handed out
   * may be of the other version, so the stream fails with that reason; before any, it just waits.
   */
  restarted(reason: Error): void {
    if (this.#position > 0) this.destroy(reason);
    else this.#readyTo = 0;
  }

  /** The fragment is verified and cached at `path`. */
  settled(path: string, size: number): void {
    this.#final = { size, handle: open(path, 'r') };
    void this.#pump();
  }

  override _read(): void {
    this.#wanted = true;
    void this.#pump();
  }

  /** Pushes what is on disk beyond the position while the consumer wants more. */
  async #pump(): Promise<void> {
    if (this.#pumping || this.destroyed) return;
    this.#pumping = true;
    try {
      while (this.#wanted && !this.destroyed) {
        const final = this.#final;
        if (final && this.#position >= final.size) {
          this.push(null);
          return;
        }
        const limit = final ? final.size : this.#readyTo;
        const source = final ? final.handle : this.#partial?.handle;
        if (!source || this.#position >= limit) return;
        const length = Math.min(READ_BYTES, limit - this.#position);
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await (await source).read(buffer, 0, length, this.#position);
        if (bytesRead === 0) return;
        this.#position += bytesRead;
        this.#wanted = this.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
      }
    } catch (error) {
      this.destroy(error as Error);
    } finally {
      this.#pumping = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handles = [this.#partial?.handle, this.#final?.handle].filter((h) => h !== undefined);
    void Promise.allSettled([
      this.#onDestroy(),
      ...handles.map(async (handle) => (await handle).close()),
    ]).then(() => callback(error));
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
