import { describe, expect, it } from 'vitest';
import {
  type EntryFacts,
  isLockStale,
  LOCK_STALE_MS,
  selectPrune,
  shouldTouch,
  TOUCH_INTERVAL_MS,
} from '../../src/cache/policy.js';

const entry = (key: string, integrity: string, size: number, time: number): EntryFacts => ({
  key,
  integrity,
  size,
  time,
});

describe('selectPrune', () => {
  const entries = [
    entry('c', 'sha256-C', 300, 3000),
    entry('a', 'sha256-A', 100, 1000),
    entry('b', 'sha256-B', 200, 2000),
  ];

  it('drops least-recently used entries until the content fits --max-size', () => {
    const result = selectPrune(entries, { maxSize: 350 });
    expect(result.drop.map((e) => e.key)).toEqual(['a', 'b']);
    expect(result.bytesFreed).toBe(300);
    expect(result.bytesLeft).toBe(300);
  });

  it('never drops kept keys, even when the kept content alone exceeds the limit', () => {
    const result = selectPrune(entries, { maxSize: 0, keep: new Set(['a', 'c']) });
    expect(result.drop.map((e) => e.key)).toEqual(['b']);
    expect(result.bytesLeft).toBe(400);
  });

  it('drops entries unused for longer than --older-than', () => {
    const result = selectPrune(entries, { olderThanMs: 1500, now: 3600 });
    expect(result.drop.map((e) => e.key)).toEqual(['a', 'b']);
  });

  it('with --keep manifests, drops everything they do not need', () => {
    const result = selectPrune(entries, { keep: new Set(['b']), onlyKept: true });
    expect(result.drop.map((e) => e.key)).toEqual(['a', 'c']);
    expect(result.bytesFreed).toBe(400);
  });

  it('frees shared content only when no remaining entry refers to it, and counts it once', () => {
    const shared = [
      entry('x', 'sha256-S', 500, 1),
      entry('y', 'sha256-S', 500, 5),
      entry('z', 'sha256-Z', 10, 9),
    ];
    expect(selectPrune(shared, { maxSize: 0, keep: new Set(['y']) }).freedContent).toEqual(
      new Map([['sha256-Z', 10]]),
    );
    const all = selectPrune(shared, { maxSize: 100 });
    expect(all.drop.map((e) => e.key)).toEqual(['x', 'y']);
    expect(all.bytesFreed).toBe(500);
    expect(all.bytesLeft).toBe(10);
  });

  it('drops nothing without a policy', () => {
    expect(selectPrune(entries, {}).drop).toEqual([]);
  });
});

describe('shouldTouch', () => {
  it('refreshes the last-use time at most once per interval', () => {
    expect(shouldTouch(0, TOUCH_INTERVAL_MS - 1)).toBe(false);
    expect(shouldTouch(0, TOUCH_INTERVAL_MS)).toBe(true);
  });
});

describe('isLockStale', () => {
  const here = { host: 'h', alive: (pid: number) => pid === 1 };
  it('is stale when the holder on this host is gone', () => {
    expect(isLockStale({ pid: 2, host: 'h', time: 100 }, 100, 100, here)).toBe(true);
    expect(isLockStale({ pid: 1, host: 'h', time: 100 }, 100, 100, here)).toBe(false);
  });
  it('is stale when the holder stopped refreshing it (another host, a frozen process)', () => {
    expect(isLockStale({ pid: 1, host: 'other', time: 0 }, 0, LOCK_STALE_MS, here)).toBe(false);
    expect(isLockStale({ pid: 1, host: 'other', time: 0 }, 0, LOCK_STALE_MS + 1, here)).toBe(true);
    expect(isLockStale({ pid: 1, host: 'h', time: 0 }, LOCK_STALE_MS, LOCK_STALE_MS + 10, here)).toBe(false);
  });
  it('gives an unreadable lock (being written) time before it is stale', () => {
    expect(isLockStale(undefined, 0, 10, here)).toBe(false);
    expect(isLockStale(undefined, 0, LOCK_STALE_MS + 1, here)).toBe(true);
  });
});
