import { cacheKey } from '../cache/store.js';
import type { Fragment } from '../manifest/fragment.js';
import { cutObject } from './cut-object.js';
import { downloadGroup, type JobContext } from './download-one.js';
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
  const run = (entry: PendingGroup, slot: () => void) => {
    entry.started = true;
    track(downloadGroup(entry.group, entry.key, entry.rank, slot, job).finally(() => probes.ended(entry)));
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
      const slot = await ctx.slots.acquire(entry.rank, signal);
      // Handed to a cut of its object while it waited for the slot.
      if (entry.started) slot();
      else run(entry, slot);
    }
  } catch {
    // Aborted while waiting for a slot: what is running winds down below.
  }
  while (running.size > 0) await Promise.all(running);
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
