import { Slots } from '../schedule/slots.js';

/**
 * The memory small objects are received into (data-file.ts `MemoryFile`) and stored from
 * (cache/store-writer.ts): a fixed set of buffers on shared memory, so the store worker writes them where they are
 * — no copy, and no garbage for either thread's collector, which would hold the memory of many
 * objects until a collection. Waiting for a buffer is the backpressure: while the disk is slower
 * than the network, no more small objects are requested than there are buffers.
 */
export class SmallBuffers {
  readonly size: number;
  readonly #slots: Slots;
  readonly #free: Buffer[] = [];

  constructor(count: number, size: number) {
    this.size = size;
    this.#slots = new Slots(count);
  }

  /** A buffer of `size` bytes, and the function that gives it back; by rank, like request slots. */
  async acquire(rank: number, signal?: AbortSignal): Promise<{ buffer: Buffer; release(): void }> {
    const releaseSlot = await this.#slots.acquire(rank, signal);
    const buffer = this.#free.pop() ?? Buffer.from(new SharedArrayBuffer(this.size));
    let released = false;
    return {
      buffer,
      release: () => {
        if (released) return;
        released = true;
        this.#free.push(buffer);
        releaseSlot();
      },
    };
  }
}
