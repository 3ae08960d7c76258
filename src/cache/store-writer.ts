import { appendFile, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { WorkerReplies } from './worker-replies.js';

/**
 * Stores small objects from a worker thread. Each of 2000 objects of 64 KiB took eight asynchronous
 * file-system calls (temporary file: open, write, close; content folder; rename; index folder and
 * append: open, write, close), and on 2 cores each call's hand-off to libuv's thread pool cost a
 * context switch of the main thread, which meanwhile reads no socket (`npm run bench`, small: 3.6 s
 * of main-thread time with the cache on tmpfs). The worker makes the same calls synchronously, one
 * message per object, while the main thread goes on with the network.
 */
export interface StoreJob {
  /** Beside the content store (same file system): to replace a short leftover atomically. */
  temp: string;
  destination: string;
  bytes: Uint8Array;
  /** The index bucket, and the line appended to it (cacache's format, see store.ts). */
  bucket: string;
  line: string;
}

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { appendFileSync, mkdirSync, renameSync, statSync, unlinkSync, writeFileSync } = require('node:fs');
const { dirname } = require('node:path');
const made = new Set();
function folder(path) {
  if (made.has(path)) return;
  mkdirSync(path, { recursive: true });
  made.add(path);
}
// New content is created in place ('wx'): no index entry names it before it is whole, so no reader
// sees it early, and a temporary file and a rename per object are saved. Content already there is
// the same bytes (its name is their hash), unless an interrupted write left it short: then it is
// replaced atomically, through a temporary file.
function writeContent(job) {
  try {
    writeFileSync(job.destination, job.bytes, { flag: 'wx' });
    return;
  } catch (error) {
    if (error.code !== 'EEXIST') throw error;
  }
  if (statSync(job.destination).size === job.bytes.length) return;
  folder(dirname(job.temp));
  writeFileSync(job.temp, job.bytes);
  renameSync(job.temp, job.destination);
}
function store(job) {
  try {
    folder(dirname(job.destination));
    writeContent(job);
    folder(dirname(job.bucket));
    appendFileSync(job.bucket, job.line);
    return undefined;
  } catch (error) {
    try { unlinkSync(job.temp); } catch {}
    // A folder may have been removed under us (cache clear): make them again next time.
    made.clear();
    // The code crosses over too: a full disk (ENOSPC) is told apart from other failures.
    return { message: error instanceof Error ? error.message : String(error), code: error?.code };
  }
}
parentPort.on('message', (batch) => {
  parentPort.postMessage(batch.map(({ id, job }) => {
    const failure = store(job);
    return failure === undefined ? { id } : { id, error: failure.message, code: failure.code };
  }));
});
`;

type Reply = { id: number; error?: string; code?: string };

class StoreWorker {
  readonly #worker: Worker;
  readonly #replies: WorkerReplies<void>;
  #nextId = 1;
  #batch: { id: number; job: StoreJob }[] = [];

  constructor() {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true });
    this.#worker.on('message', (replies: Reply[]) => {
      for (const reply of replies) {
        this.#replies.settle(
          reply.id,
          reply.error === undefined
            ? { value: undefined }
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

  store(job: StoreJob): Promise<void> {
    const id = this.#nextId++;
    const stored = this.#replies.wait(id);
    if (this.broken) return stored;
    // Jobs of one turn of the event loop go in one message, and come back in one: on 2000 objects
    // a message each way per object was ~0.13 s of the main thread's time and as many wake-ups.
    if (this.#batch.length === 0) setImmediate(this.#flush);
    this.#batch.push({ id, job });
    return stored;
  }

  readonly #flush = () => {
    const batch = this.#batch;
    this.#batch = [];
    if (!this.broken) this.#worker.postMessage(batch);
  };
}

let worker: StoreWorker | undefined;

/** Stores on the process's store worker; on the main thread's thread pool when no worker can run. */
export async function storeSmall(job: StoreJob): Promise<void> {
  try {
    if (!worker || worker.broken) worker = new StoreWorker();
  } catch {
    return storeHere(job);
  }
  return worker.store(job);
}

async function storeHere(job: StoreJob): Promise<void> {
  try {
    await mkdir(dirname(job.temp), { recursive: true });
    await mkdir(dirname(job.destination), { recursive: true });
    // Through a temporary file, always: this fallback is not the fast path.
    await writeFile(job.temp, job.bytes);
    await rename(job.temp, job.destination);
    await mkdir(dirname(job.bucket), { recursive: true });
    await appendFile(job.bucket, job.line);
  } catch (error) {
    await unlink(job.temp).catch(() => {});
    throw error;
  }
}
