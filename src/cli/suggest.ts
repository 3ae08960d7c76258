/**
 * "Did you mean …?" for a mistyped command. commander's own suggestion compares the word with the
 * last name of each command, so `fragfetch verify` got "Did you mean verify?"; here a candidate is
 * what the user types (`cache verify`), matched by its whole text or by its last word.
 */

/** More edits than this and the word is something else, not a typo (commander's bound too). */
const MAX_DISTANCE = 3;
/** Below this share of matching characters a guess is noise: `ls` is no suggestion for `rm`. */
const MIN_SIMILARITY = 0.4;

/** The candidates closest to `word`, best first, alphabetically among equals; empty when none is close. */
export function suggestCommands(word: string, candidates: readonly string[]): string[] {
  let best = MAX_DISTANCE + 1;
  let similar: string[] = [];
  for (const candidate of new Set(candidates)) {
    const last = candidate.slice(candidate.lastIndexOf(' ') + 1);
    const distance = Math.min(closeness(word, candidate), closeness(word, last));
    if (distance < best) {
      best = distance;
      similar = [candidate];
    } else if (distance === best) similar.push(candidate);
  }
  return similar.sort((a, b) => a.localeCompare(b));
}

/** `(did you mean cache verify?)`, `(did you mean one of a, b?)`, or '' when nothing is close. */
export function suggestion(word: string, candidates: readonly string[]): string {
  const similar = suggestCommands(word, candidates);
  if (similar.length === 0) return '';
  return ` (did you mean ${similar.length === 1 ? '' : 'one of '}${similar.join(', ')}?)`;
}

/** The edit distance when `target` is a plausible typo of it, else Infinity. */
function closeness(word: string, target: string): number {
  if (target.length <= 1) return Infinity;
  const distance = editDistance(word, target);
  const length = Math.max(word.length, target.length);
  return distance <= MAX_DISTANCE && (length - distance) / length > MIN_SIMILARITY ? distance : Infinity;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  // A length difference alone exceeds the bound: no need for the table.
  if (Math.abs(a.length - b.length) > MAX_DISTANCE) return Math.max(a.length, b.length);
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}
