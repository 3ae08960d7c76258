import { type Fragment, PRIORITIES } from '../manifest/fragment.js';
import { orderFragments } from '../manifest/order.js';

/**
 * The fragments `--sample N` probes, in download order. Every critical fragment is always in (even
 * beyond N: a deploy waits on them); the rest of the budget goes round-robin over the other classes,
 * most urgent first, each class in download order — so a sample of a large manifest touches every
 * class instead of only its head. Deterministic; with a seed, each class is shuffled first, so
 * successive CI runs with different seeds cover different fragments.
 */
export function sampleFragments(fragments: readonly Fragment[], count?: number, seed?: number): Fragment[] {
  const ordered = orderFragments(fragments);
  if (count === undefined || count >= ordered.length) return ordered;
  const random = seed === undefined ? undefined : mulberry32(seed);
  const chosen = new Set(ordered.filter((f) => f.priority === 'critical'));
  const classes = PRIORITIES.filter((p) => p !== 'critical')
    .map((priority) => ordered.filter((f) => f.priority === priority))
    .map((members) => (random ? shuffle(members, random) : members))
    .filter((members) => members.length > 0);
  const longest = Math.max(0, ...classes.map((members) => members.length));
  for (let i = 0; i < longest && chosen.size < count; i++) {
    for (const members of classes) {
      const fragment = members[i];
      if (fragment !== undefined && chosen.size < count) chosen.add(fragment);
    }
  }
  return ordered.filter((f) => chosen.has(f));
}

/** Fisher–Yates over a copy. */
function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A small seeded PRNG (Tommy Ettinger's mulberry32): the same seed gives the same sample anywhere. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
