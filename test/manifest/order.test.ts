import { describe, expect, it } from 'vitest';
import type { Fragment, Priority } from '../../src/manifest/fragment.js';
import { compareFragments, orderFragments } from '../../src/manifest/order.js';

function fragment(id: string, priority: Priority, importance: number, index: number): Fragment {
  return { id, path: id, urls: [`https://x.example/${id}`], priority, importance, index };
}

describe('orderFragments', () => {
  const fragments = [
    fragment('bg', 'background', 1, 0),
    fragment('n-low', 'normal', 0.1, 1),
    fragment('crit-late', 'critical', 0, 2),
    fragment('n-high', 'normal', 0.9, 3),
    fragment('low', 'low', 0, 4),
    fragment('crit-important', 'critical', 0.5, 5),
    fragment('high', 'high', 0, 6),
    fragment('n-high-later', 'normal', 0.9, 7),
    fragment('crit-early', 'critical', 0, 8),
  ];

  it('orders by priority class, then importance (higher first), then manifest order', () => {
    expect(orderFragments(fragments).map((f) => f.id)).toEqual([
      'crit-important',
      'crit-late',
      'crit-early',
      'high',
      'n-high',
      'n-high-later',
      'n-low',
      'low',
      'bg',
    ]);
  });

  it('returns a new array and leaves the input alone', () => {
    const before = fragments.map((f) => f.id);
    const ordered = orderFragments(fragments);
    expect(ordered).not.toBe(fragments);
    expect(fragments.map((f) => f.id)).toEqual(before);
  });

  it('is independent of the input order', () => {
    const expected = orderFragments(fragments).map((f) => f.id);
    expect(orderFragments([...fragments].reverse()).map((f) => f.id)).toEqual(expected);
  });

  it('compares as a comparator should', () => {
    const a = fragment('a', 'high', 0, 0);
    const b = fragment('b', 'normal', 1, 1);
    expect(compareFragments(a, b)).toBeLessThan(0);
    expect(compareFragments(b, a)).toBeGreaterThan(0);
    expect(compareFragments(a, a)).toBe(0);
  });
});

describe('orderFragments on many fragments', () => {
  /** A small deterministic generator, so that a failure names a case that can be run again. */
  function seeded(seed: number): () => number {
    let state = seed;
    return () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
  }
  const priorities: Priority[] = ['critical', 'high', 'normal', 'low', 'background'];

  it('gives the order of the whole comparison, in manifest order or not', () => {
    const random = seeded(19);
    for (let round = 0; round < 50; round++) {
      const importances = [0, 0, 0, 0.5, 1, Math.round(random() * 100) / 100];
      const fragments = Array.from({ length: 1 + Math.floor(random() * 300) }, (_, index) =>
        fragment(
          `f${index}`,
          priorities[Math.floor(random() * priorities.length)]!,
          // Some rounds with a single importance, most with several.
          round % 5 === 0 ? 0.25 : importances[Math.floor(random() * importances.length)]!,
          index,
        ),
      );
      const expected = [...fragments].sort(compareFragments).map((f) => f.id);
      expect(orderFragments(fragments).map((f) => f.id)).toEqual(expected);
      const shuffled = [...fragments].sort(() => random() - 0.5);
      expect(orderFragments(shuffled).map((f) => f.id)).toEqual(expected);
    }
  });

  it('gives the same order with more distinct importances than it counts, and with -0', () => {
    const random = seeded(7);
    const fragments = Array.from({ length: 9000 }, (_, index) =>
      fragment(
        `f${index}`,
        priorities[index % priorities.length]!,
        index % 3 === 0 ? 0 : index % 7 === 0 ? -0 : random(),
        index,
      ),
    );
    const expected = [...fragments].sort(compareFragments).map((f) => f.id);
    expect(orderFragments(fragments).map((f) => f.id)).toEqual(expected);
    // Few of them again: counted.
    const few = fragments
      .slice(0, 4000)
      .map((f, index) => ({ ...f, importance: index % 5 === 0 ? -0 : f.importance }));
    expect(orderFragments(few).map((f) => f.id)).toEqual([...few].sort(compareFragments).map((f) => f.id));
  });

  it('orders a fragment of no known priority as the comparison does, without throwing', () => {
    const odd = { ...fragment('odd', 'normal', 0, 1), priority: 'urgent' as Priority };
    const fragments = [fragment('a', 'low', 0, 0), odd, fragment('b', 'high', 0, 2)];
    expect(orderFragments(fragments).map((f) => f.id)).toEqual(
      [...fragments].sort(compareFragments).map((f) => f.id),
    );
  });
});
