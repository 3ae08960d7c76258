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
 * manifest lists them) are placed by a counting sort on (class, importance) when the importances
 * are few (most fragments have none, 0): sorting 10^6 fragments with the whole comparison took
 * 0.3 s, and each class sorted by importance 20 MB of arrays more. Otherwise each class is sorted
 * by importance, a stable sort keeping manifest order among equals.
 */
export function orderFragments(fragments: readonly Fragment[]): Fragment[] {
  if (!inManifestOrder(fragments)) return [...fragments].sort(compareFragments);
  return byBuckets(fragments) ?? byClasses(fragments);
}

/** Distinct (class, importance) pairs a counting sort takes; past that, a sort per class. */
const MAX_BUCKETS = 4096;

/**
 * Each fragment put at its place at once: the pairs are counted, their starts laid out in download
 * order, and each fragment written at its pair's next place, in manifest order. Undefined when a
 * priority is not one (a manifest built in code) or the pairs are too many.
 */
function byBuckets(fragments: readonly Fragment[]): Fragment[] | undefined {
  // Per class: the number of fragments of importance 0 (the default), and of each other importance.
  const zeros = PRIORITIES.map(() => 0);
  const others = PRIORITIES.map(() => new Map<number, number>());
  let buckets = 0;
  for (const fragment of fragments) {
    const rank = RANK[fragment.priority];
    if (rank === undefined) return undefined;
    const { importance } = fragment;
    if (importance === 0) {
      zeros[rank]!++;
      continue;
    }
    // NaN (or no number, built in code) is no place in an order: the comparison decides, as it did.
    if (typeof importance !== 'number' || Number.isNaN(importance)) return undefined;
    const counts = others[rank]!;
    const count = counts.get(importance);
    if (count === undefined && ++buckets > MAX_BUCKETS) return undefined;
    counts.set(importance, (count ?? 0) + 1);
  }
  // The next place of each pair, in download order: importance higher first within a class.
  const zeroAt = PRIORITIES.map(() => 0);
  let at = 0;
  for (const [rank, counts] of others.entries()) {
    const importances = [...counts.keys(), 0].sort((a, b) => b - a);
    for (const importance of importances) {
      if (importance === 0) {
        zeroAt[rank] = at;
        at += zeros[rank]!;
      } else {
        const count = counts.get(importance)!;
        counts.set(importance, at);
        at += count;
      }
    }
  }
  const ordered = new Array<Fragment>(fragments.length);
  for (const fragment of fragments) {
    const rank = RANK[fragment.priority];
    const { importance } = fragment;
    if (importance === 0) ordered[zeroAt[rank]!++] = fragment;
    else {
      const counts = others[rank]!;
      const place = counts.get(importance)!;
      counts.set(importance, place + 1);
      ordered[place] = fragment;
    }
  }
  return ordered;
}

/** Each class sorted by importance if it has more than one, manifest order kept among equals. */
function byClasses(fragments: readonly Fragment[]): Fragment[] {
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
