import { open } from 'node:fs/promises';

/** Where a download's bytes go while they arrive: the partial file on disk, or memory (small objects). */
export interface DataFile {
  writev(buffers: readonly Buffer[], position: number): Promise<{ bytesWritten: number }>;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
  /**
   * Memory only: the buffer for [position, position + length), for a body received in place
   * (InPlaceBody, net/response-handler.ts); `writtenInPlace` then records those bytes as written.
   */
  inPlaceBuffer?(position: number, length: number): Buffer;
  writtenInPlace?(position: number, length: number): void;
}

export function openDataFile(path: string, flags: 'r+' | 'w+'): Promise<DataFile> {
  return open(path, flags);
}

/**
 * A small object's bytes, held in memory until they are verified and stored in one go (see
 * cache/store-writer.ts): a partial file cost three file-system calls per object (open, write, close),
 * each a round trip to libuv's thread pool. Bounded: objects up to `SMALL_OBJECT_BYTES` (256 KiB),
 * as many as the memory of small-buffers.ts holds.
 */
export class MemoryFile implements DataFile {
  #data: Buffer;
  #length = 0;

  /** `memory`: where to put the bytes (a buffer of small-buffers.ts); grown, by a copy, if too small. */
  constructor(memory: Buffer) {
    this.#data = memory;
  }

  /** The bytes written so far, up to the highest byte written. */
  get data(): Buffer {
    return this.#data.subarray(0, this.#length);
  }

  async writev(buffers: readonly Buffer[], position: number): Promise<{ bytesWritten: number }> {
    let at = position;
    for (const buffer of buffers) {
      if (at + buffer.length > this.#data.length) this.#grow(at + buffer.length);
      buffer.copy(this.#data, at);
      at += buffer.length;
    }
    this.#length = Math.max(this.#length, at);
    return { bytesWritten: at - position };
  }

  inPlaceBuffer(position: number, length: number): Buffer {
    if (position + length > this.#data.length) this.#grow(position + length);
    return this.#data.subarray(position, position + length);
  }

  writtenInPlace(position: number, length: number): void {
    this.#length = Math.max(this.#length, position + length);
  }

  async read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }> {
    const end = Math.min(position + length, this.#length);
    const bytesRead = Math.max(0, end - position);
    if (bytesRead > 0) this.#data.copy(buffer, offset, position, end);
    return { bytesRead };
  }

  async truncate(length: number): Promise<void> {
    this.#length = Math.min(this.#length, length);
  }

  async close(): Promise<void> {}

  #grow(needed: number): void {
    const grown = Buffer.allocUnsafe(Math.max(needed, this.#data.length * 2));
    this.#data.copy(grown, 0, 0, this.#length);
    this.#data = grown;
  }
}
