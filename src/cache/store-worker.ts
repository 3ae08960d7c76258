import { parentPort } from 'node:worker_threads';
import { type CheckJob, type CheckOutcome, ObjectStorer, type StoreJob } from './store-job.js';

/** The store worker: each message is the jobs of one turn of the main thread's event loop. */
export type StoreRequest = ({ id: number; job: StoreJob } | { id: number; check: CheckJob })[];
/**
 * A reply per job, in one message: a check's outcome; a failure keeps its code, so a full disk
 * (ENOSPC) is told apart.
 */
export type StoreReply = { id: number; outcome?: CheckOutcome; error?: string; code?: string }[];

const storer = new ObjectStorer();
const port = parentPort;
if (!port) throw new Error('store-worker.js runs only as a worker thread');

port.on('message', (batch: StoreRequest) => {
  const replies: StoreReply = batch.map((request) => {
    const { id } = request;
    try {
      if ('check' in request) return { id, outcome: storer.check(request.check) };
      storer.store(request.job);
      return { id };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      return { id, error: error instanceof Error ? error.message : String(error), code };
    }
  });
  port.postMessage(replies);
});
