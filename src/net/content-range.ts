export interface ContentRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
  /** Complete length, or undefined for `*`. */
  total: number | undefined;
}

/**
 * Parses `bytes a-b/total` (RFC 9110 §14.4). A 206 whose Content-Range we cannot read is never
 * written to disk: returns undefined and the caller treats it as a protocol error.
 */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  const match = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === '*' ? undefined : Number(match[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  if (total !== undefined && (!Number.isSafeInteger(total) || end >= total)) return undefined;
  return { start, end, total };
}

/** The total of an unsatisfied range answer, `bytes *∕total` on a 416. */
export function parseUnsatisfiedRange(value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^\s*bytes\s+\*\/(\d+)\s*$/i.exec(value);
  return match ? Number(match[1]) : undefined;
}

/** The `Range` header value for the half-open interval [start, end); an open end when `end` is undefined. */
export function rangeHeader(start: number, end: number | undefined): string {
  return end === undefined ? `bytes=${start}-` : `bytes=${start}-${end - 1}`;
}
