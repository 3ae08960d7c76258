/**
 * planLayout of a manifest as read (its ids known unique: whole objects' paths found their own
 * without an index of every path) decides exactly as for the same fragments built in code (a new
 * list, through the index): the same files, or the same error naming the same fragments.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { idsKnownUnique } from '../../src/manifest/unique-ids.js';
import { planLayout } from '../../src/mirror/layout.js';

function read(fragments: Record<string, unknown>[]): Manifest | undefined {
  try {
    return parseManifest({ version: 1, baseUrls: ['http://cdn.test/m/'], fragments }, 'layout.json');
  } catch {
    return undefined;
  }
}

function decided(manifest: Manifest): unknown {
  try {
    return planLayout(manifest).map((file) =>
      file.kind === 'whole'
        ? { whole: file.path, id: file.fragment.id }
        : { ranges: file.path, ids: file.ranges.map((r) => r.id), size: file.size },
    );
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const segment = fc.constantFrom('a', 'b', 'c', 'a.bin');
const fragment = fc.record(
  {
    path: fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/')),
    offset: fc.nat(40),
    size: fc.nat(20),
    id: fc.constantFrom('x', 'y', 'a', 'a/b'),
    priority: fc.constantFrom('high', 'normal', 'low'),
  },
  { requiredKeys: ['path'] },
);

describe('planLayout of a manifest as read', () => {
  it('is known to have unique ids; a list built from it is not', () => {
    const manifest = read([{ path: 'a' }, { path: 'b', offset: 0, size: 1 }])!;
    expect(idsKnownUnique(manifest.fragments)).toBe(true);
    expect(idsKnownUnique([...manifest.fragments])).toBe(false);
  });

  it('decides as for the same fragments in a list built in code', () => {
    fc.assert(
      fc.property(fc.array(fragment, { minLength: 1, maxLength: 12 }), (fragments) => {
        // A range needs its size: the schema refuses an offset without one.
        const manifest = read(
          fragments.map((f) => (f.offset !== undefined && f.size === undefined ? { ...f, size: 1 } : f)),
        );
        if (manifest === undefined) return;
        expect(decided(manifest)).toEqual(decided({ ...manifest, fragments: [...manifest.fragments] }));
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['a file and a directory', [{ path: 'a' }, { path: 'a/b' }], /"a" and "a\/b": a cannot be both a file/],
    [
      'a whole object and ranges',
      [{ path: 'm' }, { path: 'm', offset: 0, size: 1 }],
      /"m" and "m#0": m is given both whole and as byte ranges/,
    ],
    [
      'a whole object with an id of its own',
      [
        { path: 'm', id: 'one' },
        { path: 'm', id: 'two' },
      ],
      /"one" and "two" are both the whole of m/,
    ],
  ])('names the fragments of %s as the index does', (_, fragments, message) => {
    expect(() => planLayout(read(fragments)!)).toThrow(message);
  });
});
