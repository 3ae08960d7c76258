import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type HeldLock, waitForLock } from '../cache/lock.js';
import { PartialFiles } from '../cache/partial.js';
import type { CacheHit, EntryMetadata } from '../cache/store.js';
import { isFragfetchError, urlWithoutCredentials } from '../errors.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import type { HeldBuffer } from '../receive/small-buffers.js';
import type { SlotLease } from '../schedule/slot-lease.js';
import type { JobContext } from './job.js';
import { type DownloadResult, ObjectDownload } from './object-download.js';
import { hashAlgorithms } from './integrity.js';
import { downloadSmallWhole, WholeAnswer } from './small-object.js';

/**
 * Downloads one piece of content for every fragment that names it (`group`), under a lock on its
 * partial download: a second process warming the same cache waits for the first, then finds the
 * content cached, or (if the first failed or died) resumes the partial file itself. A process whose
 * lock was taken over (it looked dead: frozen, suspended) stops writing and waits in its turn.
 */
export async function downloadGroup(
  group: Fragment[],
  key: string,
  rank: number,
  lease: SlotLease,
  job: JobContext,
): Promise<void> {
  const fragment = group[0]!;
  if (fragment.size !== undefined && fragment.size <= SMALL_OBJECT_BYTES) {
    lease.keep(1);
    return downloadSmall(group, rank, lease, job);
  }
  const partial = new PartialFiles(job.store.dir, key);
  try {
    for (;;) {
      let lock: HeldLock;
      try {
        // Waiting costs no request: the slots go to others meanwhile, and the download acquires
        // its own once the lock is ours.
        const held = await lockOrHit(group, key, partial, job, () => lease.release());
        if (!held) return;
        lock = held;
      } catch (error) {
        if (!job.ctx.signal.aborted) settleFailed(group, error, job);
        return;
      }
      let outcome: Awaited<ReturnType<typeof downloadAndStore>>;
      try {
        // The lease, if still held (no wait for another process), goes to the download's requests.
        outcome = await downloadAndStore(group, key, partial, rank, lease, job, undefined, lock);
      } finally {
        await lock.release();
      }
      if (outcome !== 'lock-lost') return;
    }
  } finally {
    lease.release();
  }
}

/**
 * Waits for the lock of a partial download; undefined (every member settled as cached) when another
 * process put the content in the cache meanwhile.
 */
async function lockOrHit(
  group: Fragment[],
  key: string,
  partial: PartialFiles,
  job: JobContext,
  waiting: () => void,
): Promise<HeldLock | undefined> {
  const { ctx, store } = job;
  const fragment = group[0]!;
  const lockPath = `${partial.dir}.lock`;
  await mkdir(dirname(lockPath), { recursive: true });
  let hit: CacheHit | undefined;
  const lookup = async () => {
    hit = job.stale.has(key) ? undefined : await store.lookup(fragment);
    return hit !== undefined;
  };
  const held = await waitForLock(
    lockPath,
    async () => {
      waiting();
      return lookup();
    },
    ctx.signal,
    job.lock,
  );
  if (held) {
    // Another process may have finished it between our plan and our lock: look once more.
    const found = await lookup().catch(async (error: unknown) => {
      await held.release();
      throw error;
    });
    if (!found) return held;
    await held.release();
  }
  for (const member of group) {
    job.stats.cached(member, hit?.size ?? 0);
    job.observer.settled?.(member, 'cached');
  }
  return undefined;
}

/**
 * Objects up to this size skip the partial folder, its state file and its lock: on 2000 objects of
 * 64 KiB those file-system calls took longer than the transfers. The price is small: one is fetched
 * again from zero after Ctrl-C, and two processes warming one cache at once may both fetch it (both
 * store the same verified bytes, atomically).
 */
export const SMALL_OBJECT_BYTES = 256 * 1024;

async function downloadSmall(group: Fragment[], rank: number, lease: SlotLease, job: JobContext) {
  let memory: HeldBuffer;
  try {
    // Holding the request slot while waiting: the backpressure of a disk slower than the network.
    memory = await job.smallBuffers.acquire(group[0]!.size!, rank, job.ctx.signal);
  } catch (error) {
    lease.release();
    if (!job.ctx.signal.aborted) settleFailed(group, error, job);
    return;
  }
  try {
    await downloadAndStore(group, '', PartialFiles.ephemeral(job.store.dir), rank, lease, job, memory.buffer);
  } finally {
    memory.release();
  }
}

async function downloadAndStore(
  group: Fragment[],
  key: string,
  partial: PartialFiles,
  rank: number,
  lease: SlotLease,
  job: JobContext,
  memory?: Buffer,
  lock?: HeldLock,
): Promise<'done' | 'lock-lost'> {
  const { stats, observer } = job;
  const ctx = lock ? { ...job.ctx, signal: AbortSignal.any([job.ctx.signal, lock.signal]) } : job.ctx;
  const fragment = group[0]!;
  try {
    const received = memory
      ? await downloadSmallWhole({ fragment, partial, ctx, rank, memory }, lease)
      : await new ObjectDownload({ fragment, key, partial, ctx, rank }).run(lease);
    const { size, resumedBytes } = await storeReceived(received, fragment, job, lock);
    await partial.remove();
    group.forEach((member, i) => {
      stats.downloaded(member, size, i === 0 ? resumedBytes : 0);
      observer.settled?.(member, 'downloaded');
    });
  } catch (error) {
    if (isFragfetchError(error, 'ELOCKLOST') && !job.ctx.signal.aborted) return 'lock-lost';
    if (job.handedOver?.has(fragment)) {
      // Its bytes come from the cut of its object now: nothing here is worth resuming.
      await partial.remove().catch(() => {});
      return 'done';
    }
    // An abort is not the fragment's failure: its partial state is kept for the next run.
    if (!job.ctx.signal.aborted) settleFailed(group, error, job);
  }
  return 'done';
}

/** Stores what a download received: the size stored, and the bytes an earlier run had received. */
async function storeReceived(
  received: DownloadResult | WholeAnswer,
  fragment: Fragment,
  job: JobContext,
  lock: HeldLock | undefined,
): Promise<{ size: number; resumedBytes: number }> {
  const { store, manifest } = job;
  const metadata = entryMetadata(fragment, received.url, received, manifest);
  // The data file is the taker's now: it publishes the content, not us.
  await lock?.assertHeld();
  if (received instanceof WholeAnswer) {
    if (await store.checkAndInsert(fragment, received.bytes, hashAlgorithms(fragment), metadata)) {
      return { size: received.bytes.length, resumedBytes: 0 };
    }
    // Bytes the store found wrong: ObjectDownload checks, counts and retries them, as any others.
    return storeReceived(await received.handOver(), fragment, job, lock);
  }
  if ('bytes' in received.data)
    await store.insertBytes(fragment, received.data.bytes, received.sha256, metadata);
  else await store.insertFile(fragment, received.data.path, received.sha256, received.size, metadata);
  return { size: received.size, resumedBytes: received.resumedBytes };
}

/** What the cache keeps beside a downloaded fragment's entry. */
export function entryMetadata(
  fragment: Fragment,
  url: string,
  validators: { etag?: string | undefined; lastModified?: string | undefined },
  manifest: Manifest,
): EntryMetadata {
  return {
    id: fragment.id,
    // Stored, so without credentials; revalidation then asks the fragment's own first URL.
    url: urlWithoutCredentials(url),
    ...(validators.etag === undefined ? {} : { etag: validators.etag }),
    ...(validators.lastModified === undefined ? {} : { lastModified: validators.lastModified }),
    ...(fragment.offset === undefined ? {} : { offset: fragment.offset }),
    ...(manifest.name === undefined ? {} : { manifest: manifest.name }),
  };
}

export function settleFailed(group: readonly Fragment[], error: unknown, job: JobContext): void {
  for (const member of group) {
    job.stats.failed(member, error);
    job.observer.settled?.(member, 'failed', error);
  }
}
