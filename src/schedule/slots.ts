import { PriorityQueue } from './priority-queue.js';

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
}

/**
 * A counting semaphore whose waiters are served by rank (lower first): the request slots of a run.
 * Whoever frees a slot hands it straight to the most urgent waiter, so the highest-priority pending
 * work always starts next, whatever order the waiters arrived in.
 */
export class Slots {
  readonly capacity: number;
  #inUse = 0;
  #waiting = new PriorityQueue<Waiter>();
  /** Signals listened to: one listener each, for all of its waiters. */
  readonly #watched = new WeakSet<AbortSignal>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.capacity = capacity;
  }

  get inUse(): number {
    return this.#inUse;
  }

  get waiting(): number {
    return this.#waiting.size;
  }

  /** Resolves with a release function once a slot is ours. */
  acquire(rank: number, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#inUse < this.capacity) {
      this.#inUse++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject, signal }, rank);
      if (signal && !this.#watched.has(signal)) {
        // A listener added and removed per wait was ~15 ms of a run of 2000 small objects.
        this.#watched.add(signal);
        signal.addEventListener('abort', () => this.#abandon(signal), { once: true });
      }
    });
  }

  /** The waiters of an aborted signal give up; those of other signals wait on. */
  #abandon(signal: AbortSignal): void {
    for (const waiter of this.#waiting.removeAll((waiter) => waiter.signal === signal)) {
      waiter.reject(signal.reason);
    }
  }

  /** A slot now if one is free, else undefined: for opportunistic extra connections. */
  tryAcquire(): (() => void) | undefined {
    if (this.#inUse >= this.capacity || this.#waiting.size > 0) return undefined;
    this.#inUse++;
    return this.#releaser();
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next.resolve(this.#releaser());
      else this.#inUse--;
    };
  }
}
