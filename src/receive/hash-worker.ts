import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { MessageChannel, parentPort, workerData } from 'node:worker_threads';

/** What hash-pool.ts asks of a hash worker; updates of one job are applied in the order sent. */
export type HashRequest =
  | { op: 'open'; id: number; path: string; algorithms: readonly string[] }
  /** Hash `[offset, offset + length)` of the job's file, read back (from the page cache, as a rule). */
  | { op: 'update'; id: number; offset: number; length: number }
  /** Hash these bytes, next in order: received chunks moved here, each owning its ArrayBuffer. */
  | { op: 'data'; id: number; chunks: Uint8Array[] }
  | { op: 'digest'; id: number }
  | { op: 'close'; id: number };

/** The answer to a `digest`: base64 digests in the job's algorithm order, or why there are none. */
export type HashReply = { id: number; digests?: string[]; error?: string };

export interface HashWorkerData {
  /** A BigInt64Array's memory: [0] counts the moved bytes hashed, so the sender can bound the backlog. */
  shared: SharedArrayBuffer;
}

interface Job {
  path: string;
  hashes: Hash[];
  fd: number;
  error: string | undefined;
}

const port = parentPort;
if (!port) throw new Error('hash-worker.js runs only as a worker thread');
const hashedMoved = new BigInt64Array((workerData as HashWorkerData).shared);

// Moved chunks are freed as soon as they are hashed, by transferring them to a closed port: a
// transfer detaches the buffers even when the message cannot be delivered, and the undeliverable
// message is dropped with their memory. Left as garbage, they would wait for this worker's tiny heap
// to be collected, which V8 does only after tens of MiB of external memory.
const discard = new MessageChannel();
discard.port2.close();

// Small enough to stay in the CPU cache between the read and the hash.
const buffer = Buffer.allocUnsafe(256 * 1024);
const jobs = new Map<number, Job>();

function update(job: Job, offset: number, length: number): void {
  if (job.error !== undefined) return;
  try {
    if (job.fd < 0) job.fd = openSync(job.path, 'r');
    for (let done = 0; done < length;) {
      const want = Math.min(buffer.length, length - done);
      const got = readSync(job.fd, buffer, 0, want, offset + done);
      if (got !== want) throw new Error(`short read at ${offset + done}: ${got} of ${want}`);
      const view = buffer.subarray(0, got);
      for (const hash of job.hashes) hash.update(view);
      done += got;
    }
  } catch (error) {
    job.error = error instanceof Error ? error.message : String(error);
  }
}

function hashMoved(job: Job | undefined, chunks: Uint8Array[]): void {
  let bytes = 0;
  for (const chunk of chunks) {
    if (job && job.error === undefined) for (const hash of job.hashes) hash.update(chunk);
    bytes += chunk.byteLength;
  }
  discard.port1.postMessage(
    null,
    chunks.map((chunk) => chunk.buffer as ArrayBuffer),
  );
  // Counted even for a job closed meanwhile (a restart), or the backlog would never drain.
  Atomics.add(hashedMoved, 0, BigInt(bytes));
}

function close(id: number): void {
  const job = jobs.get(id);
  if (job && job.fd >= 0) closeSync(job.fd);
  jobs.delete(id);
}

function digest(id: number): HashReply {
  const job = jobs.get(id);
  if (!job) return { id, error: 'unknown hash job' };
  if (job.error !== undefined) return { id, error: job.error };
  return { id, digests: job.hashes.map((hash) => hash.digest('base64')) };
}

port.on('message', (message: HashRequest) => {
  switch (message.op) {
    case 'open':
      jobs.set(message.id, {
        path: message.path,
        hashes: message.algorithms.map((algorithm) => createHash(algorithm)),
        fd: -1,
        error: undefined,
      });
      return;
    case 'update': {
      const job = jobs.get(message.id);
      if (job) update(job, message.offset, message.length);
      return;
    }
    case 'data':
      hashMoved(jobs.get(message.id), message.chunks);
      return;
    case 'digest': {
      const reply = digest(message.id);
      close(message.id);
      port.postMessage(reply);
      return;
    }
    case 'close':
      close(message.id);
  }
});
