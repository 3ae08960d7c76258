import type { Fragment } from './fragment.js';

/**
 * Fragment lists whose ids were found unique as they were read, with their length then. Weakly:
 * a list no one holds is the collector's.
 */
const UNIQUE = new WeakMap<readonly Fragment[], number>();

/** Records that no two of `fragments` share an id (the reader has just checked it). */
export function markIdsUnique(fragments: readonly Fragment[]): void {
  UNIQUE.set(fragments, fragments.length);
}

/**
 * Whether `fragments` is a list read with unique ids and still of its length then: a mirror's
 * layout then knows that whole objects whose id is their path have paths of their own, without an
 * index of 10^6 paths to find it out. A list built or grown in code is not known.
 */
export function idsKnownUnique(fragments: readonly Fragment[]): boolean {
  return UNIQUE.get(fragments) === fragments.length;
}
