import { parentPort } from 'node:worker_threads';
import { ObjectStorer, type StoreJob } from './store-job.js';

/** The store worker: each message is the jobs of one turn of the main thread's event loop. */
export type StoreRequest = { id: number; job: StoreJob }[];
/** A reply per job, in one message; a failure keeps its code, so a full disk (ENOSPC) is told apart. */
export type StoreReply = { id: number; error?: string; code?: string }[];

const storer = new ObjectStorer();
const port = parentPort;
if (!port) throw new Error('store-worker.js runs only as a worker thread');

port.on('message', (batch: StoreRequest) => {
  const replies: StoreReply = batch.map(({ id, job }) => {
    try {
      storer.store(job);
      return { id };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException | undefined)?.code;
      return { id, error: error instanceof Error ? error.message : String(error), code };
    }
  });
  port.postMessage(replies);
});
