import { PriorityQueue } from '../schedule/priority-queue.js';
import { whenAborted } from '../schedule/when-aborted.js';

/** The smallest piece handed out: a page. */
const MIN_PIECE = 4096;

/** A block of shared memory cut into pieces of one size (a power of two, at most the block). */
interface Slab {
  readonly memory: Buffer;
  piece: number;
  /** Offsets of the pieces not handed out. */
  free: number[];
  /** Pieces handed out. */
  held: number;
}

interface Waiter {
  piece: number;
  resolve: (held: HeldBuffer) => void;
}

export interface HeldBuffer {
  /** At least the bytes asked for (their size rounded up to a power of two), on shared memory. */
  buffer: Buffer;
  release(): void;
}

/**
 * The memory small objects are received into (data-file.ts `MemoryFile`) and stored from
 * (cache/store-writer.ts): shared memory, so the store worker writes it where it is — no copy, and
 * no garbage for either thread's collector, which would hold the memory of many objects until a
 * collection. Waiting for memory is the backpressure: while the disk is slower than the network, no
 * more small objects are requested than the memory holds.
 *
 * Bounded by bytes, not by buffers: at most `bytes` of slabs of `slabBytes` each, made as first
 * needed; each object gets a piece of its size rounded up to a power of two, so a slab holds four
 * objects of 64 KiB or one of 256 KiB. Buffers of the largest size for every object held the pages
 * of whatever size had ever landed in them, and came from malloc's heap, which zeroes them whole:
 * 512 of 256 KiB were 128 MiB of a run of 64 KiB objects. A slab wholly free goes to whichever size
 * needs one; waiters are served strictly by rank, so a large object is not passed over for ever by
 * small ones.
 */
export class SmallBuffers {
  readonly slabBytes: number;
  readonly #maxSlabs: number;
  #slabs = 0;
  /** Per piece size, the slabs cut to it that have a free piece. */
  readonly #open = new Map<number, Slab[]>();
  readonly #waiting = new PriorityQueue<Waiter>();

  /** `bytes`: the most memory held at once; `slabBytes`: the largest object, a power of two. */
  constructor(bytes: number, slabBytes: number) {
    if (!Number.isInteger(Math.log2(slabBytes)) || slabBytes < MIN_PIECE)
      throw new RangeError(`slabBytes must be a power of two of at least ${MIN_PIECE}`);
    this.slabBytes = slabBytes;
    this.#maxSlabs = Math.max(1, Math.floor(bytes / slabBytes));
  }

  /** Memory held now (slabs made), in bytes: what the pool adds to the process. */
  get heldBytes(): number {
    return this.#slabs * this.slabBytes;
  }

  /** A buffer of at least `size` bytes (≤ `slabBytes`) and the function that gives it back; by rank. */
  acquire(size: number, rank: number, signal?: AbortSignal): Promise<HeldBuffer> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (size > this.slabBytes) throw new RangeError(`${size} bytes is more than a slab (${this.slabBytes})`);
    const piece = Math.max(MIN_PIECE, 2 ** Math.ceil(Math.log2(Math.max(1, size))));
    if (this.#waiting.size === 0) {
      const held = this.#take(piece);
      if (held) return Promise.resolve(held);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        piece,
        resolve: (held) => {
          unwatch?.();
          resolve(held);
        },
      };
      const unwatch = signal
        ? whenAborted(signal, (reason) => {
            if (!this.#waiting.remove(waiter)) return;
            reject(reason);
            // The most urgent waiter may have been what held the others back.
            this.#serve();
          })
        : undefined;
      this.#waiting.push(waiter, rank);
    });
  }

  /** A piece of `piece` bytes: from a slab of that size, a new slab, or a wholly free one of another. */
  #take(piece: number): HeldBuffer | undefined {
    const open = this.#openOf(piece);
    let slab = open[open.length - 1];
    if (!slab) {
      slab = this.#newSlab() ?? this.#freeSlab();
      if (!slab) return undefined;
      this.#cut(slab, piece);
      open.push(slab);
    }
    const offset = slab.free.pop()!;
    slab.held++;
    if (slab.free.length === 0) open.pop();
    return this.#held(slab, offset);
  }

  #held(slab: Slab, offset: number): HeldBuffer {
    const buffer = slab.memory.subarray(offset, offset + slab.piece);
    let released = false;
    return {
      buffer,
      release: () => {
        if (released) return;
        released = true;
        slab.held--;
        slab.free.push(offset);
        // Full until now: it has a free piece again.
        if (slab.free.length === 1) this.#openOf(slab.piece).push(slab);
        this.#serve();
      },
    };
  }

  #serve(): void {
    for (;;) {
      const next = this.#waiting.peek();
      if (!next) return;
      const held = this.#take(next.piece);
      if (!held) return;
      this.#waiting.shift();
      next.resolve(held);
    }
  }

  #newSlab(): Slab | undefined {
    if (this.#slabs >= this.#maxSlabs) return undefined;
    this.#slabs++;
    return { memory: Buffer.from(new SharedArrayBuffer(this.slabBytes)), piece: 0, free: [], held: 0 };
  }

  /** A slab of another piece size whose pieces are all back, taken from that size. */
  #freeSlab(): Slab | undefined {
    for (const open of this.#open.values()) {
      const index = open.findIndex((slab) => slab.held === 0);
      if (index !== -1) return open.splice(index, 1)[0];
    }
    return undefined;
  }

  #cut(slab: Slab, piece: number): void {
    slab.piece = piece;
    slab.free.length = 0;
    // Handed out from the start of the slab: pop takes the last.
    for (let offset = this.slabBytes - piece; offset >= 0; offset -= piece) slab.free.push(offset);
  }

  #openOf(piece: number): Slab[] {
    let open = this.#open.get(piece);
    if (!open) {
      open = [];
      this.#open.set(piece, open);
    }
    return open;
  }
}
