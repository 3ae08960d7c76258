import { describe, expect, it } from 'vitest';
import { parseContentRange, parseUnsatisfiedRange, rangeHeader } from '../../src/net/content-range.js';
import { Coverage, planSegments } from '../../src/fetch/coverage.js';

describe('Content-Range', () => {
  it('parses complete and unknown lengths', () => {
    expect(parseContentRange('bytes 0-99/1000')).toEqual({ start: 0, end: 99, total: 1000 });
    expect(parseContentRange('bytes 10-19/*')).toEqual({ start: 10, end: 19, total: undefined });
  });

  it.each(['bytes 5-4/10', 'bytes 0-10/10', 'items 0-1/2', 'bytes */10', '', 'bytes 0-1/x'])(
    'rejects %j',
    (value) => {
      expect(parseContentRange(value)).toBeUndefined();
    },
  );

  it('reads the length of a 416', () => {
    expect(parseUnsatisfiedRange('bytes */4096')).toBe(4096);
    expect(parseUnsatisfiedRange(undefined)).toBeUndefined();
  });

  it('writes half-open spans as inclusive ranges', () => {
    expect(rangeHeader(0, 100)).toBe('bytes=0-99');
    expect(rangeHeader(4096, undefined)).toBe('bytes=4096-');
  });
});

describe('Coverage', () => {
  it('merges overlapping and adjacent spans', () => {
    const c = new Coverage();
    c.add(10, 20);
    c.add(30, 40);
    c.add(20, 30);
    c.add(5, 12);
    expect(c.spans).toEqual([{ start: 5, end: 40 }]);
    expect(c.size).toBe(35);
  });

  it('keeps disjoint spans sorted whatever the insertion order', () => {
    const c = new Coverage([
      { start: 50, end: 60 },
      { start: 0, end: 10 },
      { start: 20, end: 30 },
    ]);
    expect(c.spans.map((s) => s.start)).toEqual([0, 20, 50]);
  });

  it('lists the holes and the contiguous run from a point', () => {
    const c = new Coverage([
      { start: 0, end: 10 },
      { start: 20, end: 30 },
    ]);
    expect(c.missing(40)).toEqual([
      { start: 10, end: 20 },
      { start: 30, end: 40 },
    ]);
    expect(c.contiguousEnd(0)).toBe(10);
    expect(c.contiguousEnd(5)).toBe(10);
    expect(c.contiguousEnd(10)).toBe(10);
    expect(c.contiguousEnd(25)).toBe(30);
    expect(new Coverage().missing(0)).toEqual([]);
  });

  it('splits holes into chunks', () => {
    expect([...planSegments([{ start: 0, end: 25 }], 10)]).toEqual([
      { start: 0, end: 10 },
      { start: 10, end: 20 },
      { start: 20, end: 25 },
    ]);
    expect([
      ...planSegments(
        [
          { start: 5, end: 8 },
          { start: 30, end: 41 },
        ],
        10,
      ),
    ]).toEqual([
      { start: 5, end: 8 },
      { start: 30, end: 40 },
      { start: 40, end: 41 },
    ]);
  });

  it('plans lazily: the first pieces of 10^15 bytes without the other 10^8', () => {
    const plan = planSegments([{ start: 0, end: 1e15 }], 8 * 1024 * 1024);
    expect(plan.next().value).toEqual({ start: 0, end: 8 * 1024 * 1024 });
    expect(plan.next().value).toEqual({ start: 8 * 1024 * 1024, end: 16 * 1024 * 1024 });
  });
});
