import { cacheKey } from '../cache/store.js';
import type { Fragment } from '../manifest/fragment.js';
import { HeldSlots } from '../schedule/held-slots.js';
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
  const run = (entry: PendingGroup, slot: () => void, extra?: HeldSlots) => {
    entry.started = true;
    const download = downloadGroup(entry.group, entry.key, entry.rank, slot, job, extra);
    const done = download.finally(() => probes.ended(entry));
    track(done);
    return done;
  };
  const probes = new RangeProbes(pending, {
    launch: (entry) =>
      track(
        ctx.slots.acquire(entry.rank, signal).then(
          (slot) => (entry.started ? slot() : run(entry, slot)),
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
      const [slot, ...more] = await reserve(ctx, entry);
      const extra = more.length > 0 ? new HeldSlots(more) : undefined;
      // Handed to a cut of its object while it waited for the slot.
      if (entry.started) {
        slot!();
        extra?.keep(0);
        continue;
      }
      const done = run(entry, slot!, extra);
      // Nothing after it starts until its first round of requests is under way (see reserve).
      if (extra) await Promise.race([extra.opened, done]);
    }
  } catch {
    // Aborted while waiting for a slot: what is running winds down below.
  }
  while (running.size > 0) await Promise.all(running);
}

/**
 * The request slots a download starts with: one, or for an object split into ranges as many as it
 * will open at once, all taken before anything after it in the order starts. Else the next, less
 * urgent fragments would take the free slots while the object waits for its first answer (a
 * critical 2 MiB tensor got 1 of 16 connections for its first 0.2 s); the loop then waits until
 * the server has answered the object's first round, as its setup (lock, partial file) outlasts a
 * small object's whole download, and new connections reach the server in no set order. Only this loop reserves, one download at a time, so two reservations never wait
 * on each other.
 */
async function reserve(ctx: DownloadContext, entry: PendingGroup): Promise<(() => void)[]> {
  const fragment = entry.group[0]!;
  const size = fragment.size ?? 0;
  const connections =
    size > ctx.splitThreshold
      ? Math.min(ctx.maxConnectionsPerObject, Math.ceil(size / ctx.chunkSize), ctx.slots.capacity)
      : 1;
  const held: (() => void)[] = [];
  try {
    while (held.length < connections) held.push(await ctx.slots.acquire(entry.rank, ctx.signal));
  } catch (error) {
    for (const release of held) release();
    throw error;
  }
  return held;
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
