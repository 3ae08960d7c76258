import { describe, expect, it } from 'vitest';
import { StringIndex } from '../../src/manifest/string-index.js';

describe('StringIndex', () => {
  it('gives the position of the first holder of a string, and records new ones', () => {
    const keys: string[] = [];
    const index = new StringIndex(4, (position) => keys[position]!);
    for (const key of ['a', 'b', '', 'a/b', 'é', '\0']) {
      expect(index.add(key, keys.length)).toBe(-1);
      keys.push(key);
    }
    expect(index.add('a', 99)).toBe(0);
    expect(index.add('', 99)).toBe(2);
    expect(index.get('a/b')).toBe(3);
    expect(index.get('é')).toBe(4);
    expect(index.get('c')).toBe(-1);
  });

  it('grows past the capacity it was given, finding every string again', () => {
    const keys: string[] = [];
    const index = new StringIndex(1, (position) => keys[position]!);
    for (let i = 0; i < 10_000; i++) {
      const key = `t/${i % 100}/${i}`;
      expect(index.add(key, keys.length)).toBe(-1);
      keys.push(key);
    }
    for (let i = 0; i < 10_000; i += 7) expect(index.get(`t/${i % 100}/${i}`)).toBe(i);
    expect(index.add('t/5/5', -1)).toBe(5);
    expect(index.get('t/5/6')).toBe(-1);
  });

  it('once released is empty, and the next index of its size starts empty in its table', () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    const first = new StringIndex(1000, (position) => keys[position]!);
    for (const [i, key] of keys.entries()) first.add(key, i);
    first.release();
    expect(first.get('k1')).toBe(-1);
    expect(first.add('k1', 1)).toBe(-1);
    expect(first.get('k1')).toBe(1);
    const others = keys.map((key) => `${key}!`);
    const second = new StringIndex(1000, (position) => others[position]!);
    for (let i = 0; i < 1000; i++) expect(second.get(keys[i]!)).toBe(-1);
    for (const [i, key] of others.entries()) expect(second.add(key, i)).toBe(-1);
    expect(second.get('k999!')).toBe(999);
  });
});
