import { cacheKey } from '../cache/store.js';
import type { Fragment } from '../manifest/fragment.js';
import { SlotLease } from '../schedule/slot-lease.js';
import type { DownloadContext } from './context.js';
import { cutObject } from './cut-object.js';
import { downloadGroup } from './download-group.js';
import type { JobContext } from './job.js';
import { type PendingGroup, RangeProbes } from './range-probes.js';

/**
 * Downloads the missing fragments in their order (`missing` is sorted): each piece of content once
 * for all the fragments that name it, a request slot each, the most urgent first. Resolves when
 * every download has settled, or wound down after an abort.
 */
export async function downloadMissing(
  missing: readonly Fragment[],
  job: JobContext,
  warn: (message: string) => void,
): Promise<void> {
  const { ctx } = job;
  const signal = ctx.signal;
  const running = new Set<Promise<void>>();
  const track = (work: Promise<void>) => {
    running.add(work);
    void work.finally(() => running.delete(work));
  };
  const pending = groupByKey(missing);
  const run = (entry: PendingGroup, lease: SlotLease) => {
    entry.started = true;
    const download = downloadGroup(entry.group, entry.key, entry.rank, lease, job);
    const done = download.finally(() => probes.ended(entry));
    track(done);
    return done;
  };
  const probes = new RangeProbes(pending, {
    launch: (entry) =>
      track(
        SlotLease.acquire(ctx.slots, entry.rank, 1, signal).then(
          (lease) => (entry.started ? lease.release() : run(entry, lease)),
          () => {},
        ),
      ),
    cut: (members) => track(cutObject(members, job)),
    warn,
  });
  job.handedOver = probes.handedOver;
  ctx.rangeVerdict = (fragment, honoured) => probes.verdict(fragment, honoured);

  try {
    for (const entry of pending) {
      if (entry.started || !probes.admit(entry)) continue;
      const connections = firstConnections(ctx, entry);
      const lease = await SlotLease.acquire(ctx.slots, entry.rank, connections, signal);
      // Handed to a cut of its object while it waited for the slot.
      if (entry.started) {
        lease.release();
        continue;
      }
      const done = run(entry, lease);
      // Nothing after it starts until its first round of requests is under way (see
      // firstConnections). A single slot is not waited for: the next download starts at once.
      if (connections > 1) await Promise.race([lease.opened, done]);
    }
  } catch {
    // Aborted while waiting for a slot: what is running winds down below.
  }
  while (running.size > 0) await Promise.all(running);
}

/**
 * How many request slots a download starts with: one, or for an object split into ranges as many
 * as it will open at once, all taken before anything after it in the order starts. Else the next,
 * less urgent fragments would take the free slots while the object waits for its first answer (a
 * critical 2 MiB tensor got 1 of 16 connections for its first 0.2 s); the loop then waits until
 * the server has answered the object's first round, as its setup (lock, partial file) outlasts a
 * small object's whole download, and new connections reach the server in no set order. Only this
 * loop acquires several slots at once, one download at a time, so two leases never wait on each
 * other.
 */
function firstConnections(ctx: DownloadContext, entry: PendingGroup): number {
  const size = entry.group[0]!.size ?? 0;
  return size > ctx.splitThreshold
    ? Math.min(ctx.maxConnectionsPerObject, Math.ceil(size / ctx.chunkSize), ctx.slots.capacity)
    : 1;
}

/** Content named twice (the same integrity, or the same URL and range) is fetched once for all names. */
function groupByKey(fragments: readonly Fragment[]): PendingGroup[] {
  const byKey = new Map<string, PendingGroup>();
  for (const fragment of fragments) {
    const key = cacheKey(fragment);
    const entry = byKey.get(key);
    if (entry) entry.group.push(fragment);
    else byKey.set(key, { key, group: [fragment], rank: byKey.size, started: false });
  }
  return [...byKey.values()];
}
