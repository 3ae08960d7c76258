import { type FileHandle, open } from 'node:fs/promises';
import { FragfetchError } from '../errors.js';

/**
 * One fragment's bytes in order while its ranges download in parallel, read into the caller's own
 * buffers, as `FileHandle.read` does: a program that copies them on (`fragfetch cat`) reuses two
 * buffers instead of allocating one per read, which a slow consumer would keep alive into the old
 * generation, for the major collector (100 per GiB into `| sha256sum`, against 35 for `fetch`).
 *
 * Ranges that arrive ahead of the reader wait where the engine writes them, in the fragment's
 * partial file: that file is the reorder buffer, so memory holds no more than the caller's buffers.
 * What there is to read is told by the run (`written`, `settled`, `fail`); the end (a read of 0
 * bytes) comes only once the whole fragment was verified and cached, so a reader that sees the end
 * saw verified bytes — and one that sees an EINTEGRITY error must drop what it got.
 */
export class FragmentBytes {
  readonly #onClose: () => Promise<void>;
  #partial: { path: string; handle: Promise<FileHandle> } | undefined;
  #final: { size: number; handle: Promise<FileHandle> } | undefined;
  #readyTo = 0;
  #position = 0;
  /** Bumped by a restart: a read begun before it may have read the other version's bytes. */
  #generation = 0;
  #failure: Error | undefined;
  #onFailure: ((error: Error) => void) | undefined;
  #wake: (() => void) | undefined;
  #reading = false;
  #closed: Promise<void> | undefined;

  /**
   * `onClose`: stops the download when the reader gives up, resolving once it has wound down, so
   * that nothing of the run is still writing when `close()` resolves.
   */
  constructor(onClose: () => Promise<void>) {
    this.#onClose = onClose;
  }

  /** Bytes handed out so far. */
  get position(): number {
    return this.#position;
  }

  /** Bytes [0, readyTo) are on disk in the partial file `path`. */
  written(path: string, readyTo: number): void {
    if (this.#closed) return;
    if (this.#partial?.path !== path) this.#partial = { path, handle: open(path, 'r') };
    this.#readyTo = Math.max(this.#readyTo, readyTo);
    this.#notify();
  }

  /**
   * The download starts over (the object changed, or failed its integrity): bytes already handed out
   * may be of the other version, so reading fails with that reason; before any, it just waits.
   */
  restarted(reason: Error): void {
    this.#generation++;
    if (this.#position > 0) this.fail(reason);
    else this.#readyTo = 0;
  }

  /** The fragment is verified and cached at `path`. */
  settled(path: string, size: number): void {
    if (this.#closed) return;
    this.#final = { size, handle: open(path, 'r') };
    this.#notify();
  }

  /** The download failed: the next read (or the one waiting) rejects with `error`. */
  fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#onFailure?.(error);
    this.#notify();
  }

  /** Told of a failure as it happens, for a reader that is not reading just then (a paused stream). */
  onFailure(listener: (error: Error) => void): void {
    this.#onFailure = listener;
    if (this.#failure) listener(this.#failure);
  }

  /**
   * Reads the next bytes into `into`, as many as are on disk up to its length, waiting until there
   * are some; resolves with their count, 0 at the verified end. One read at a time.
   */
  async read(into: Buffer): Promise<number> {
    if (this.#reading) throw new Error('FragmentBytes.read: a read is already under way');
    this.#reading = true;
    try {
      for (;;) {
        if (this.#failure) throw this.#failure;
        if (this.#closed) throw new FragfetchError('EABORT', 'the fragment was closed');
        const final = this.#final;
        if (final && this.#position >= final.size) return 0;
        const limit = final ? final.size : this.#readyTo;
        const source = final ? final.handle : this.#partial?.handle;
        if (source && this.#position < limit && into.length > 0) {
          const generation = this.#generation;
          const length = Math.min(into.length, limit - this.#position);
          const { bytesRead } = await (await source).read(into, 0, length, this.#position);
          if (generation === this.#generation && bytesRead > 0) {
            this.#position += bytesRead;
            return bytesRead;
          }
          // The file changed under the read (or was short): what is there is told again.
          if (generation !== this.#generation) continue;
        }
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    } finally {
      this.#reading = false;
    }
  }

  /** Stops the download if it is still running and closes the files; resolves once all is still. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#notify();
      const handles = [this.#partial?.handle, this.#final?.handle].filter((h) => h !== undefined);
      await Promise.allSettled([this.#onClose(), ...handles.map(async (handle) => (await handle).close())]);
    })();
    return this.#closed;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
