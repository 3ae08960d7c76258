import { describe, expect, it } from 'vitest';
import { sampleFragments } from '../../src/check/sample.js';
import { median, percentile } from '../../src/check/stats.js';
import { parseManifest } from '../../src/manifest/parse.js';

const PRIORITIES = ['critical', 'high', 'normal', 'low', 'background'];

/** 3 critical, then 10 of each other class, interleaved in the manifest. */
function manifest() {
  const fragments = [];
  for (let i = 0; i < 43; i++) {
    const priority = i < 3 ? 'critical' : PRIORITIES[1 + (i % 4)]!;
    fragments.push({ path: `f${i}.bin`, priority });
  }
  return parseManifest({ version: 1, baseUrls: ['http://cdn/'], fragments }, 'm.json').fragments;
}

describe('sampleFragments', () => {
  const all = manifest();
  const byClass = (list: { priority: string }[]) =>
    Object.fromEntries(PRIORITIES.map((p) => [p, list.filter((f) => f.priority === p).length]));

  it('takes everything without a count, or with a count at least the total, in download order', () => {
    expect(sampleFragments(all)).toHaveLength(43);
    const taken = sampleFragments(all, 100);
    expect(taken.map((f) => f.priority).slice(0, 3)).toEqual(['critical', 'critical', 'critical']);
  });

  it('keeps every critical fragment and spreads the rest across the classes', () => {
    const taken = sampleFragments(all, 11);
    expect(taken).toHaveLength(11);
    expect(byClass(taken)).toEqual({ critical: 3, high: 2, normal: 2, low: 2, background: 2 });
  });

  it('keeps every critical fragment even beyond the count', () => {
    const taken = sampleFragments(all, 1);
    expect(byClass(taken)).toEqual({ critical: 3, high: 0, normal: 0, low: 0, background: 0 });
  });

  it('gives the leftovers of a short class to the others', () => {
    const few = parseManifest(
      {
        version: 1,
        baseUrls: ['http://cdn/'],
        fragments: [
          { path: 'h', priority: 'high' },
          ...Array.from({ length: 10 }, (_, i) => ({ path: `n${i}`, priority: 'normal' })),
        ],
      },
      'm.json',
    ).fragments;
    expect(byClass(sampleFragments(few, 6))).toMatchObject({ high: 1, normal: 5 });
  });

  it('is deterministic, and a seed picks other members of each class', () => {
    expect(sampleFragments(all, 11).map((f) => f.id)).toEqual(sampleFragments(all, 11).map((f) => f.id));
    const a = sampleFragments(all, 11, 1).map((f) => f.id);
    expect(sampleFragments(all, 11, 1).map((f) => f.id)).toEqual(a);
    const seeds = [2, 3, 4, 5].map((seed) =>
      sampleFragments(all, 11, seed)
        .map((f) => f.id)
        .join(),
    );
    expect(seeds.some((ids) => ids !== a.join())).toBe(true);
    expect(byClass(sampleFragments(all, 11, 7))).toEqual({
      critical: 3,
      high: 2,
      normal: 2,
      low: 2,
      background: 2,
    });
  });
});

describe('median and percentile', () => {
  it('are undefined for no values', () => {
    expect(median([])).toBeUndefined();
    expect(percentile([], 95)).toBeUndefined();
  });

  it('median: the middle, or the mean of the two middles, whatever the input order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('percentile: nearest rank, an observed value', () => {
    const values = Array.from({ length: 20 }, (_, i) => 20 - i); // 20..1, unsorted
    expect(percentile(values, 95)).toBe(19);
    expect(percentile(values, 100)).toBe(20);
    expect(percentile(values, 50)).toBe(10);
    expect(percentile([5], 95)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
  });

  it('rejects a percentile outside (0, 100]', () => {
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });
});
