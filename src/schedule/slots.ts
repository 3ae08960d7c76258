import { PriorityQueue } from './priority-queue.js';
import { whenAborted } from './when-aborted.js';

interface Waiter {
  resolve: (release: () => void) => void;
}

/**
 * A counting semaphore whose waiters are served by rank (lower first): the request slots of a run.
 * Whoever frees a slot hands it straight to the most urgent waiter, so the highest-priority pending
 * work always starts next, whatever order the waiters arrived in.
 */
export class Slots {
  #capacity: number;
  #inUse = 0;
  #waiting = new PriorityQueue<Waiter>();

  constructor(capacity: number) {
    this.#capacity = checked(capacity);
  }

  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Changes how many slots there are (adaptive concurrency): more start waiters at once; fewer take
   * effect as slots in use are released, none is taken back from a request under way.
   */
  set capacity(capacity: number) {
    this.#capacity = checked(capacity);
    while (this.#inUse < this.#capacity) {
      const next = this.#waiting.shift();
      if (!next) break;
      this.#inUse++;
      next.resolve(this.#releaser());
    }
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
    if (this.#inUse < this.#capacity) {
      this.#inUse++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (release) => {
          unwatch?.();
          resolve(release);
        },
      };
      const unwatch = signal
        ? whenAborted(signal, (reason) => {
            if (this.#waiting.remove(waiter)) reject(reason);
          })
        : undefined;
      this.#waiting.push(waiter, rank);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#inUse <= this.#capacity ? this.#waiting.shift() : undefined;
      if (next) next.resolve(this.#releaser());
      else this.#inUse--;
    };
  }
}

function checked(capacity: number): number {
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError('capacity must be a positive integer');
  return capacity;
}
