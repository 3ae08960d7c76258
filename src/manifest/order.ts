import { type Fragment, PRIORITIES, type Priority } from './fragment.js';

const RANK = new Map<Priority, number>(PRIORITIES.map((priority, rank) => [priority, rank]));

/** Download order: priority class, then importance (higher first), then position in the manifest. */
export function compareFragments(a: Fragment, b: Fragment): number {
  const byPriority = RANK.get(a.priority)! - RANK.get(b.priority)!;
  if (byPriority !== 0) return byPriority;
  if (a.importance !== b.importance) return b.importance - a.importance;
  return a.index - b.index;
}

/** A new array in download order; the input is left as it is. */
export function orderFragments(fragments: readonly Fragment[]): Fragment[] {
  return [...fragments].sort(compareFragments);
}
