import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { WorkerReplies } from './worker-replies.js';

/**
 * Hashing off the main thread. On 1 GiB of 16 MiB objects, sha256 on the main thread took ~0.6 s of
 * CPU and ~1 s of wall time (`npm run bench`, bulk): while it hashed, no socket was read. The worker
 * gets each span once it joins the hashed frontier: as the received chunks themselves, moved (not
 * copied) once they are written, or else as a range of the file to read back from the page cache.
 * Moving also takes the chunks' garbage off the main thread's heap: bulk 4.5–4.9 s → 3.7–3.9 s.
 * Each byte is still hashed once, in file order.
 *
 * The worker is plain CommonJS evaluated from a string, so it runs the same from `dist/` and from
 * the TypeScript sources under vitest, with no file of its own to locate.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { closeSync, openSync, readSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { workerData } = require('node:worker_threads');
// [0]: bytes of moved chunks hashed so far, read by the main thread to bound what waits here;
// [1]: 1 once this worker can take moved chunks (it can free them, below).
const shared = new BigInt64Array(workerData.shared);
// Moved chunks are garbage once hashed, but V8 collects a worker's external memory only after some
// 64 MiB of it: peak RSS was 195 MiB instead of 140 on the bulk benchmark. A minor collection every
// 16 MiB frees them (they are young): ~1 ms each, where a full one took ~13 ms (860 ms per GiB).
// Without a collector to call, nothing is moved here.
let collect;
try {
  require('node:v8').setFlagsFromString('--expose-gc');
  collect = require('node:vm').runInNewContext('gc');
} catch {}
if (typeof collect === 'function') Atomics.store(shared, 1, 1n);
const COLLECT_EVERY = 16 * 1024 * 1024;
let movedSinceCollect = 0;
// Small enough to stay in the CPU cache between the read and the hash.
const buffer = Buffer.allocUnsafe(256 * 1024);
const jobs = new Map();
function update(job, offset, length) {
  if (job.error !== undefined) return;
  try {
    if (job.fd < 0) job.fd = openSync(job.path, 'r');
    for (let done = 0; done < length; ) {
      const want = Math.min(buffer.length, length - done);
      const got = readSync(job.fd, buffer, 0, want, offset + done);
      if (got !== want) throw new Error('short read at ' + (offset + done) + ': ' + got + ' of ' + want);
      const view = buffer.subarray(0, got);
      for (const hash of job.hashes) hash.update(view);
      done += got;
    }
  } catch (error) {
    job.error = error instanceof Error ? error.message : String(error);
  }
}
function close(id) {
  const job = jobs.get(id);
  if (job && job.fd >= 0) closeSync(job.fd);
  jobs.delete(id);
}
parentPort.on('message', (m) => {
  const job = jobs.get(m.id);
  if (m.op === 'open') {
    jobs.set(m.id, { path: m.path, hashes: m.algorithms.map((a) => createHash(a)), fd: -1, error: undefined });
  } else if (m.op === 'update' && job) {
    update(job, m.offset, m.length);
  } else if (m.op === 'data') {
    // Counted even for a job closed meanwhile (a restart), or the backlog would never drain.
    let bytes = 0;
    for (const chunk of m.chunks) {
      if (job && job.error === undefined) for (const hash of job.hashes) hash.update(chunk);
      bytes += chunk.byteLength;
    }
    m.chunks = undefined;
    movedSinceCollect += bytes;
    if (movedSinceCollect >= COLLECT_EVERY) {
      movedSinceCollect = 0;
      try {
        collect({ type: 'minor' });
      } catch {
        // A runtime whose gc() takes no options: stop taking moved chunks, hash by reading back.
        Atomics.store(shared, 1, 0n);
      }
    }
    Atomics.add(shared, 0, BigInt(bytes));
  } else if (m.op === 'digest') {
    const reply = !job
      ? { id: m.id, error: 'unknown hash job' }
      : job.error !== undefined
        ? { id: m.id, error: job.error }
        : { id: m.id, digests: job.hashes.map((hash) => hash.digest('base64')) };
    close(m.id);
    parentPort.postMessage(reply);
  } else if (m.op === 'close') {
    close(m.id);
  }
});
`;

type Reply = { id: number; digests?: string[]; error?: string };

/** One file hashed by a worker: updates are applied in the order sent. */
export interface HashJob {
  /** Hashes `[offset, offset + length)` of the file, which must already be written. */
  update(offset: number, length: number): void;
  /**
   * Hashes these bytes, next in order, by moving their memory to the worker: no copy and no read
   * back. Only when every chunk owns its whole ArrayBuffer (Node's HTTP parser gives each body chunk
   * its own); returns false, having sent nothing, otherwise. The chunks are unusable afterwards.
   */
  transfer(chunks: readonly Buffer[]): boolean;
  /** The digests (base64, in the job's algorithm order); the job is closed afterwards. */
  digest(): Promise<string[]>;
  /** Forgets the job without a digest. */
  close(): void;
}

/**
 * Moved chunks waiting in a worker's queue, at most: past this the worker is behind (both cores
 * busy), and further spans are read back from the page cache instead, so memory stays bounded.
 */
const MAX_MOVED_BACKLOG = 8 * 1024 * 1024;

class HashWorker {
  readonly #worker: Worker;
  readonly #shared = new BigInt64Array(new SharedArrayBuffer(16));
  #movedBytes = 0;
  readonly #replies: WorkerReplies<string[]>;

  constructor() {
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { shared: this.#shared.buffer },
    });
    this.#worker.on('message', (reply: Reply) =>
      this.#replies.settle(
        reply.id,
        reply.digests
          ? { value: reply.digests }
          : { error: new Error(`hashing failed: ${reply.error ?? 'no digest'}`) },
      ),
    );
    // Idle workers never keep the process alive; a pending digest does.
    this.#replies = new WorkerReplies(this.#worker, 'hash worker');
  }

  get broken(): boolean {
    return this.#replies.broken !== undefined;
  }

  post(message: object): void {
    if (!this.broken) this.#worker.postMessage(message);
  }

  /** Moves chunks to the worker unless its backlog is full; false if nothing was sent. */
  move(id: number, chunks: readonly Buffer[]): boolean {
    if (this.broken) return false;
    const owned = chunks.every(
      (chunk) =>
        chunk.byteOffset === 0 &&
        chunk.byteLength === chunk.buffer.byteLength &&
        chunk.buffer instanceof ArrayBuffer,
    );
    if (!owned || Atomics.load(this.#shared, 1) !== 1n) return false;
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    const backlog = this.#movedBytes - Number(Atomics.load(this.#shared, 0));
    if (backlog + bytes > MAX_MOVED_BACKLOG) return false;
    this.#movedBytes += bytes;
    const views = chunks.map((chunk) => new Uint8Array(chunk.buffer));
    this.#worker.postMessage(
      { op: 'data', id, chunks: views },
      views.map((view) => view.buffer as ArrayBuffer),
    );
    return true;
  }

  wait(id: number): Promise<string[]> {
    return this.#replies.wait(id);
  }
}

/** A worker per spare core, at most two: one hashes ~1.7 GB/s of sha256, more than a link brings. */
const WORKERS = Math.max(1, Math.min(2, availableParallelism() - 1));

let workers: HashWorker[] | undefined;
let nextId = 1;
let nextWorker = 0;

/** A job on a worker of the process-wide pool, or undefined when workers cannot run here. */
export function openHashJob(path: string, algorithms: readonly string[]): HashJob | undefined {
  try {
    workers = (workers ?? []).filter((worker) => !worker.broken);
    while (workers.length < WORKERS) workers.push(new HashWorker());
  } catch {
    return undefined;
  }
  const worker = workers[nextWorker++ % workers.length]!;
  const id = nextId++;
  worker.post({ op: 'open', id, path, algorithms });
  let open = true;
  return {
    update: (offset, length) => worker.post({ op: 'update', id, offset, length }),
    transfer: (chunks) => open && worker.move(id, chunks),
    digest: () => {
      if (!open) return Promise.reject(new Error('hash job already closed'));
      open = false;
      const result = worker.wait(id);
      worker.post({ op: 'digest', id });
      return result;
    },
    close: () => {
      if (!open) return;
      open = false;
      worker.post({ op: 'close', id });
    },
  };
}
