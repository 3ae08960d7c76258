import type { Worker } from 'node:worker_threads';

/**
 * The replies a worker owes, by request id. The worker keeps the process alive only while a reply is
 * pending, and a worker that fails or exits fails every pending request (and all later ones).
 */
export class WorkerReplies<T> {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve(value: T): void; reject(error: Error): void }>();
  #broken: Error | undefined;

  /** Call after the worker's 'message' listener is added: adding one refs its port again. */
  constructor(worker: Worker, name: string) {
    this.#worker = worker;
    worker.on('error', (error) => this.#fail(error));
    worker.on('exit', (code) => this.#fail(new Error(`${name} exited (${code})`)));
    worker.unref();
  }

  get broken(): Error | undefined {
    return this.#broken;
  }

  wait(id: number): Promise<T> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise<T>((resolve, reject) => {
      if (this.#waiting.size === 0) this.#worker.ref();
      this.#waiting.set(id, { resolve, reject });
    });
  }

  settle(id: number, outcome: { value: T } | { error: Error }): void {
    const waiter = this.#waiting.get(id);
    if (!waiter) return;
    this.#waiting.delete(id);
    if (this.#waiting.size === 0) this.#worker.unref();
    if ('value' in outcome) waiter.resolve(outcome.value);
    else waiter.reject(outcome.error);
  }

  #fail(error: Error): void {
    this.#broken ??= error;
    for (const id of [...this.#waiting.keys()]) this.settle(id, { error });
  }
}
