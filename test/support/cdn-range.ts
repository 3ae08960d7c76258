/**
 * Pure HTTP semantics for the test CDN (RFC 9110 §8.8, §13, §14): Range parsing, entity-tag
 * comparison, If-Range and the If-None-Match / If-Modified-Since cache preconditions.
 * Kept apart from the server so the rules can be read (and unit-tested) on their own.
 */

/** The outcome of a Range header for an object of a known size. `end` is inclusive. */
export type RangeResult =
  { kind: 'whole' } | { kind: 'unsatisfiable' } | { kind: 'partial'; start: number; end: number };

const WHOLE: RangeResult = { kind: 'whole' };
const UNSATISFIABLE: RangeResult = { kind: 'unsatisfiable' };

/**
 * Absent, malformed, other-unit and multi-range headers give `whole`: RFC 9110 lets a server ignore
 * a Range it does not want to honour, and multipart/byteranges is more than the tests need.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return WHOLE;
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return WHOLE;
  // Empty list elements are allowed by the list syntax (RFC 9110 §5.6.1).
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length !== 1) return WHOLE;
  const match = /^(\d*)-(\d*)$/.exec(specs[0]!);
  if (!match) return WHOLE;
  const first = match[1]!;
  const last = match[2]!;
  if (first === '' && last === '') return WHOLE;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.POSITIVE_INFINITY : Number(last);
  if (end < start) return WHOLE;
  if (start >= size) return UNSATISFIABLE;
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

export interface EntityTag {
  weak: boolean;
  opaque: string;
}

export function parseEntityTag(value: string): EntityTag | null {
  const match = /^(W\/)?"([^"]*)"$/.exec(value.trim());
  return match ? { weak: match[1] !== undefined, opaque: match[2]! } : null;
}

/** `*`, or the tags of a list; commas may appear inside a tag, so it is scanned, not split. */
export function parseEntityTagList(value: string): '*' | EntityTag[] {
  if (value.trim() === '*') return '*';
  return [...value.matchAll(/(W\/)?"([^"]*)"/g)].map((m) => ({ weak: m[1] !== undefined, opaque: m[2]! }));
}

export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

/** IMF-fixdate, the only HTTP-date form a server may send. */
export function httpDate(date: Date): string {
  return date.toUTCString();
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/**
 * RFC 9110 §13.1.5: an entity tag must match strongly (a weak tag never does); a date must equal
 * Last-Modified exactly, to the second, since that is all the header carries.
 */
export function ifRangeMatches(value: string, etag: string | null, lastModified: Date | null): boolean {
  const trimmed = value.trim();
  if (trimmed.startsWith('"') || trimmed.startsWith('W/')) {
    const asked = parseEntityTag(trimmed);
    const current = etag === null ? null : parseEntityTag(etag);
    return asked !== null && current !== null && strongMatch(asked, current);
  }
  const date = Date.parse(trimmed);
  return lastModified !== null && !Number.isNaN(date) && seconds(date) === seconds(lastModified.getTime());
}

/**
 * RFC 9110 §13.2.2 order for GET/HEAD: If-None-Match (weak comparison) wins; If-Modified-Since is
 * only looked at without it.
 */
export function isNotModified(
  ifNoneMatch: string | undefined,
  ifModifiedSince: string | undefined,
  etag: string | null,
  lastModified: Date | null,
): boolean {
  if (ifNoneMatch !== undefined) {
    const tags = parseEntityTagList(ifNoneMatch);
    if (tags === '*') return true;
    const current = etag === null ? null : parseEntityTag(etag);
    return current !== null && tags.some((tag) => weakMatch(tag, current));
  }
  if (ifModifiedSince !== undefined && lastModified !== null) {
    const since = Date.parse(ifModifiedSince);
    return !Number.isNaN(since) && seconds(lastModified.getTime()) <= seconds(since);
  }
  return false;
}
