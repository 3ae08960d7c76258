import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { planLayout } from '../../src/mirror/layout.js';

function manifest(fragments: Record<string, unknown>[]): Manifest {
  return parseManifest({ version: 1, baseUrls: ['http://cdn.test/m/'], fragments }, 'layout.json');
}

describe('planLayout', () => {
  it('groups ranges of one path into one file sorted by offset, sized by the furthest range', () => {
    const files = planLayout(
      manifest([
        { path: 'model.bin', offset: 100, size: 50 },
        { path: 'a.txt' },
        { path: 'model.bin', offset: 0, size: 100 },
        { path: 'model.bin', offset: 200, size: 10 },
      ]),
    );
    expect(files.map((f) => f.path)).toEqual(['model.bin', 'a.txt']);
    const model = files[0]!;
    expect(model.kind).toBe('ranges');
    if (model.kind !== 'ranges') return;
    expect(model.ranges.map((r) => r.offset)).toEqual([0, 100, 200]);
    expect(model.size).toBe(210);
    expect(files[1]).toMatchObject({ kind: 'whole', path: 'a.txt' });
  });

  it('keeps a single range as a ranges file (written at its offset)', () => {
    const [file] = planLayout(manifest([{ path: 'x.bin', offset: 4096, size: 10 }]));
    expect(file).toMatchObject({ kind: 'ranges', size: 4106 });
  });

  it('accepts adjacent ranges and empty ranges anywhere', () => {
    expect(() =>
      planLayout(
        manifest([
          { path: 'm', offset: 0, size: 10 },
          { path: 'm', offset: 10, size: 10 },
          { path: 'm', offset: 5, size: 0, id: 'empty' },
        ]),
      ),
    ).not.toThrow();
  });

  it.each([
    [
      'overlapping ranges',
      [
        { path: 'm', offset: 0, size: 10 },
        { path: 'm', offset: 9, size: 10 },
      ],
      /"m#0" and "m#9" overlap in m \(bytes 0-9 and 9-18\)/,
    ],
    [
      'a range inside another',
      [
        { path: 'm', offset: 0, size: 100 },
        { path: 'm', offset: 10, size: 5 },
      ],
      /overlap/,
    ],
    [
      'two whole objects on one path',
      [
        { path: 'a', id: 'one' },
        { path: 'a', id: 'two' },
      ],
      /"one" and "two" are both the whole of a/,
    ],
    [
      'whole and ranges on one path',
      [{ path: 'a' }, { path: 'a', offset: 0, size: 1 }],
      /given both whole and as byte ranges/,
    ],
    [
      'a file that is also a directory',
      [{ path: 'a' }, { path: 'a/b' }],
      /cannot be both a file and the directory/,
    ],
    ['the state directory', [{ path: '.fragfetch/state.json' }], /reserved for mirror state/],
    ['a temporary name', [{ path: 'x/.y.fragfetch-tmp' }], /reserved for files being written/],
  ])('refuses %s as an invalid manifest', (_, fragments, message) => {
    let error: unknown;
    try {
      planLayout(manifest(fragments));
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'EMANIFEST' });
    expect((error as Error).message).toMatch(message);
  });

  it('re-checks paths of manifests built in code, which skipped the schema', () => {
    const built: Manifest = {
      version: 1,
      source: 'code',
      fragments: [
        { id: 'x', path: '../x', urls: ['http://cdn.test/x'], priority: 'normal', importance: 0, index: 0 },
      ],
    };
    expect(() => planLayout(built)).toThrow(/path must be a relative path without "\.\." segments/);
  });
});
