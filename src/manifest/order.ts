import { type Fragment, PRIORITIES, type Priority } from './fragment.js';

const RANK = Object.fromEntries(PRIORITIES.map((priority, rank) => [priority, rank])) as Record<
  Priority,
  number
>;

/** Download order: priority class, then importance (higher first), then position in the manifest. */
export function compareFragments(a: Fragment, b: Fragment): number {
  const byPriority = RANK[a.priority] - RANK[b.priority];
  if (byPriority !== 0) return byPriority;
  if (a.importance !== b.importance) return b.importance - a.importance;
  return a.index - b.index;
}

/**
 * A new array in download order; the input is left as it is. Fragments in manifest order (as a
 * manifest lists them) are put in their classes as they come, and each class is sorted by
 * importance only if it has more than one, a stable sort keeping manifest order among equals:
 * sorting 10^6 fragments with the whole comparison took 0.3 s.
 */
export function orderFragments(fragments: readonly Fragment[]): Fragment[] {
  if (!inManifestOrder(fragments)) return [...fragments].sort(compareFragments);
  // Counted first, so that each class and the result are made at their size: arrays grown by
  // pushes left copies of 10^6 elements behind.
  const counts = PRIORITIES.map(() => 0);
  for (const fragment of fragments) {
    const rank = RANK[fragment.priority];
    // Not a priority (a manifest built in code): the comparison decides where it goes, as it did.
    if (rank === undefined) return [...fragments].sort(compareFragments);
    counts[rank]!++;
  }
  const classes = counts.map((count) => new Array<Fragment>(count));
  const filled = PRIORITIES.map(() => 0);
  for (const fragment of fragments) {
    const rank = RANK[fragment.priority];
    classes[rank]![filled[rank]!++] = fragment;
  }
  const ordered = new Array<Fragment>(fragments.length);
  let at = 0;
  for (const members of classes) {
    if (!sameImportance(members)) members.sort(byImportance);
    for (const fragment of members) ordered[at++] = fragment;
  }
  return ordered;
}

function byImportance(a: Fragment, b: Fragment): number {
  return b.importance - a.importance;
}

function inManifestOrder(fragments: readonly Fragment[]): boolean {
  for (let i = 1; i < fragments.length; i++) if (fragments[i]!.index < fragments[i - 1]!.index) return false;
  return true;
}

function sameImportance(fragments: readonly Fragment[]): boolean {
  for (let i = 1; i < fragments.length; i++) {
    if (fragments[i]!.importance !== fragments[0]!.importance) return false;
  }
  return true;
}
