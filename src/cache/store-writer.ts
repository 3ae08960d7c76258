import { Worker } from 'node:worker_threads';
import { WorkerReplies } from '../workers/worker-replies.js';
import { workerUrl } from '../workers/worker-url.js';
import { type CheckJob, type CheckOutcome, ObjectStorer, type StoreJob } from './store-job.js';
import type { StoreReply, StoreRequest } from './store-worker.js';

/**
 * Stores objects from a worker thread. Each of 2000 objects of 64 KiB takes a handful of file-system
 * calls (temporary file: open, write, close; link; unlink; index: open, write, close), and on 2 cores
 * each asynchronous call's hand-off to libuv's thread pool costs a context switch of the main
 * thread, which meanwhile reads no socket. The worker makes the same calls synchronously, one message
 * per turn of the main thread's event loop, while the main thread goes on with the network. It also
 * hashes the small objects received on the short path (`checkAndStoreObject`): their sha256, the
 * content address and the index line made from it were a tenth of the main thread's time there.
 */
class StoreWorker {
  readonly #worker: Worker;
  readonly #replies: WorkerReplies<CheckOutcome | undefined>;
  #nextId = 1;
  #batch: StoreRequest = [];

  constructor() {
    this.#worker = new Worker(workerUrl('store-worker', import.meta.url));
    this.#worker.on('message', (replies: StoreReply) => {
      for (const reply of replies) {
        this.#replies.settle(
          reply.id,
          reply.error === undefined
            ? { value: reply.outcome }
            : { error: Object.assign(new Error(reply.error), { code: reply.code }) },
        );
      }
    });
    // An idle worker never keeps the process alive; a pending store does.
    this.#replies = new WorkerReplies(this.#worker, 'store worker');
  }

  get broken(): boolean {
    return this.#replies.broken !== undefined;
  }

  async store(job: StoreJob): Promise<void> {
    await this.#send((id) => ({ id, job }));
  }

  async check(check: CheckJob): Promise<CheckOutcome> {
    return (await this.#send((id) => ({ id, check })))!;
  }

  #send(request: (id: number) => StoreRequest[number]): Promise<CheckOutcome | undefined> {
    const id = this.#nextId++;
    const replied = this.#replies.wait(id);
    if (this.broken) return replied;
    // Jobs of one turn of the event loop go in one message, and come back in one: a message each
    // way per object costs the main thread as many wake-ups.
    if (this.#batch.length === 0) setImmediate(this.#flush);
    this.#batch.push(request(id));
    return replied;
  }

  readonly #flush = () => {
    const batch = this.#batch;
    this.#batch = [];
    if (!this.broken) this.#worker.postMessage(batch);
  };
}

let worker: StoreWorker | undefined;
let here: ObjectStorer | undefined;

/** The process's store worker, or undefined when none can start (then jobs run here). */
function storeWorker(): StoreWorker | undefined {
  try {
    if (!worker || worker.broken) worker = new StoreWorker();
    return worker;
  } catch {
    return undefined;
  }
}

/** Stores on the process's store worker; on the main thread when no worker can start. */
export async function storeObject(job: StoreJob): Promise<void> {
  const on = storeWorker();
  if (on) return on.store(job);
  here ??= new ObjectStorer();
  return here.store(job);
}

/** Hashes, checks and stores on the process's store worker (ObjectStorer.check); here without one. */
export async function checkAndStoreObject(job: CheckJob): Promise<CheckOutcome> {
  const on = storeWorker();
  if (on) return on.check(job);
  here ??= new ObjectStorer();
  return here.check(job);
}
