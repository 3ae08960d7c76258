import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { WorkerReplies } from '../workers/worker-replies.js';
import { workerUrl } from '../workers/worker-url.js';
import type { HashReply, HashRequest, HashWorkerData } from './hash-worker.js';

/**
 * Hashing off the main thread (hash-worker.ts): while the main thread hashes, it reads no socket.
 * The worker gets each span once it joins the hashed frontier: as the received chunks themselves,
 * moved (not copied) once they are written, or else as a range of the file to read back from the
 * page cache. Moving also takes the chunks' garbage off the main thread's heap. Each byte is still
 * hashed once, in file order.
 */

/** One file hashed by a worker: updates are applied in the order sent. */
export interface HashJob {
  /** Hashes `[offset, offset + length)` of the file, which must already be written. */
  update(offset: number, length: number): void;
  /**
   * Hashes these bytes, next in order, by moving their memory to the worker: no copy and no read
   * back. Only when the chunks own their whole ArrayBuffers (each socket read gets its own, and a
   * body chunk is most often a whole read), but for a few KiB of views, copied; returns false, having
   * sent nothing, otherwise. The chunks that moved are unusable afterwards.
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

/**
 * A chunk that is a view of a larger buffer cannot be moved without taking the rest of that buffer:
 * a small one is copied instead (a body's first chunk, which shares its socket read with the
 * headers), so that its batch need not be read back from the file.
 */
const MAX_COPIED_BYTES = 64 * 1024;

function owns(chunk: Buffer): boolean {
  return (
    chunk.byteOffset === 0 &&
    chunk.byteLength === chunk.buffer.byteLength &&
    chunk.buffer instanceof ArrayBuffer
  );
}

class HashWorker {
  readonly #worker: Worker;
  /** [0]: the moved bytes the worker has hashed (hash-worker.ts). */
  readonly #shared = new BigInt64Array(new SharedArrayBuffer(8));
  #movedBytes = 0;
  readonly #replies: WorkerReplies<string[]>;

  constructor() {
    const workerData: HashWorkerData = { shared: this.#shared.buffer as SharedArrayBuffer };
    this.#worker = new Worker(workerUrl('hash-worker', import.meta.url), { workerData });
    this.#worker.on('message', (reply: HashReply) =>
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

  post(message: HashRequest): void {
    if (!this.broken) this.#worker.postMessage(message);
  }

  /** Moves chunks to the worker unless its backlog is full; false if nothing was sent. */
  move(id: number, chunks: readonly Buffer[]): boolean {
    if (this.broken) return false;
    let copied = 0;
    for (const chunk of chunks) if (!owns(chunk)) copied += chunk.byteLength;
    if (copied > MAX_COPIED_BYTES) return false;
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    const backlog = this.#movedBytes - Number(Atomics.load(this.#shared, 0));
    if (backlog + bytes > MAX_MOVED_BACKLOG) return false;
    this.#movedBytes += bytes;
    const views = chunks.map((chunk) => (owns(chunk) ? new Uint8Array(chunk.buffer) : new Uint8Array(chunk)));
    const message: HashRequest = { op: 'data', id, chunks: views };
    this.#worker.postMessage(
      message,
      views.map((view) => view.buffer as ArrayBuffer),
    );
    return true;
  }

  wait(id: number): Promise<string[]> {
    return this.#replies.wait(id);
  }
}

/** A worker per spare core, at most two: one hashes sha256 faster than a link brings bytes. */
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
