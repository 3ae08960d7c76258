/** A half-open byte interval [start, end). */
export interface Span {
  start: number;
  end: number;
}

/**
 * The set of byte spans of a fragment already on disk, kept sorted and merged. It is what a partial
 * download persists, so that a resumed run asks only for the holes.
 */
export class Coverage {
  #spans: Span[] = [];

  constructor(spans: readonly Span[] = []) {
    for (const span of spans) this.add(span.start, span.end);
  }

  get spans(): readonly Span[] {
    return this.#spans;
  }

  /** Bytes covered. */
  get size(): number {
    let total = 0;
    for (const span of this.#spans) total += span.end - span.start;
    return total;
  }

  /** End of the contiguous run that starts at `from` (== from when `from` is not covered). */
  contiguousEnd(from: number): number {
    for (const span of this.#spans) {
      if (span.start <= from && from < span.end) return span.end;
      if (span.start > from) break;
    }
    return from;
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    const merged: Span[] = [];
    let current = { start, end };
    let placed = false;
    for (const span of this.#spans) {
      if (span.end < current.start) merged.push(span);
      else if (span.start > current.end) {
        if (!placed) {
          merged.push(current);
          placed = true;
        }
        merged.push(span);
      } else current = { start: Math.min(span.start, current.start), end: Math.max(span.end, current.end) };
    }
    if (!placed) merged.push(current);
    this.#spans = merged;
  }

  /** The holes of [0, total). */
  missing(total: number): Span[] {
    const holes: Span[] = [];
    let cursor = 0;
    for (const span of this.#spans) {
      if (span.start >= total) break;
      if (span.start > cursor) holes.push({ start: cursor, end: span.start });
      cursor = Math.max(cursor, span.end);
    }
    if (cursor < total) holes.push({ start: cursor, end: total });
    return holes;
  }

  clear(): void {
    this.#spans = [];
  }
}

/** How many pieces planSegments cuts the holes into, without cutting them. */
export function countSegments(holes: readonly Span[], chunkSize: number): number {
  let count = 0;
  for (const hole of holes) count += Math.ceil((hole.end - hole.start) / chunkSize);
  return count;
}

/**
 * Splits the holes into request-sized pieces: each hole is cut into chunks of at most `chunkSize`, so
 * that a large object is fetched over several connections at once and a failed piece costs little.
 * Lazily: a declared size of 10^15 bytes is 10^8 pieces, never all needed (its first answer tells
 * the real size) and never all in memory.
 */
export function* planSegments(holes: readonly Span[], chunkSize: number): Generator<Span> {
  for (const hole of holes) {
    for (let start = hole.start; start < hole.end; start += chunkSize) {
      yield { start, end: Math.min(hole.end, start + chunkSize) };
    }
  }
}
