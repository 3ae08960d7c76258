/**
 * Bounded concurrency for work that is not a request: file scans and writes, cache index reads, the
 * segments of one object. (Requests take the run's request slots, slots.ts, which rank waiters.)
 */

/**
 * Runs `task` over `items` with at most `limit` tasks at once, started in the items' order. The
 * items are pulled one at a time as a task ends, so an iterable larger than memory (a lazy plan)
 * is never held whole.
 *
 * - The first task to reject stops the run: no task starts after it, and the promise rejects with
 *   that first error once the tasks already running have settled (their errors are dropped).
 * - `signal` aborted: no task starts after it, and the promise rejects with its reason once the
 *   running tasks have settled (unless a task rejected first). Tasks that should stop early listen
 *   to the signal themselves.
 *
 * Settled means nothing of the run is still running: a caller's cleanup after it is safe.
 */
export async function forEachLimit<T>(
  items: Iterable<T>,
  limit: number,
  task: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  checked(limit);
  const iterator = items[Symbol.iterator]();
  let index = 0;
  let exhausted = false;
  let failed = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && !signal?.aborted) {
      try {
        const next = iterator.next();
        if (next.done) {
          exhausted = true;
          return;
        }
        await task(next.value, index++);
      } catch (error) {
        if (!failed) {
          failed = true;
          failure = error;
        }
      }
    }
  };
  const workers: Promise<void>[] = [];
  // Each worker takes its first item before the next one starts: a short plan stops the loop early.
  for (let i = 0; i < limit && !exhausted && !failed; i++) workers.push(worker());
  await Promise.all(workers);
  if (failed) throw failure;
  if (signal?.aborted) throw signal.reason;
}

/**
 * Work submitted over time (files written as their fragments arrive), at most `limit` at once: each
 * call runs `task` when a place is free, FIFO, and settles as the task does. A task that ends hands
 * its place straight to the next in line. Tasks are independent: one's error goes to its caller only.
 */
export function limitConcurrency(limit: number): <R>(task: () => Promise<R>) => Promise<R> {
  checked(limit);
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <R>(task: () => Promise<R>): Promise<R> => {
    if (active < limit) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

function checked(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
}
