import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FragfetchError } from '../../src/errors.js';
import { directManifest } from '../../src/manifest/direct.js';
import { compareFragments, orderFragments } from '../../src/manifest/order.js';
import { parseManifest, schemaManifest } from '../../src/manifest/parse.js';
import { hostileDocument, plausibleDocument, renderText } from './hostile-manifests.js';

const SHA256 = 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';

/** Values of each fragment field, valid and not; `undefined` leaves the field out. */
const FIELD_VALUES: Record<string, unknown[]> = {
  path: ['a.bin', 'dir/b c.bin', '', '../x', 'a//b', '/abs', 5, undefined],
  size: [undefined, 0, 65536, -1, 1.5, '5', 2 ** 53, Number.MAX_SAFE_INTEGER, null],
  integrity: [
    undefined,
    SHA256,
    `sha256:${'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'}`,
    SHA256.replace('=', ''),
    SHA256.replace('FU=', 'FV='),
    'md5-1B2M2Y8AsgTpgAmY7PhCfg==',
    'sha256-short',
    5,
  ],
  priority: [undefined, 'critical', 'background', 'urgent', 3],
  importance: [undefined, 0, 0.5, 1, 1.5, -0.1, '1'],
  id: [undefined, 'x', '', 7],
  url: [undefined, 'https://x.example/y', 'https://u:p@x.example/y?sig=1', 'ftp://x/y', 5],
  offset: [undefined, 0, 10, -1, 1.5, 2 ** 53, '0'],
  extra: [undefined, { nested: true }],
};

/** Values each field may take in a valid fragment (with a size whenever there is an offset). */
const PLAIN_VALUES: Record<string, unknown[]> = {
  path: ['a.bin', 'dir/b c.bin', 'c', 'd/e/f', 'x#1', 'q?.bin'],
  size: [undefined, 0, 65536, Number.MAX_SAFE_INTEGER],
  integrity: [undefined, SHA256, FIELD_VALUES.integrity![2], SHA256.replace('=', '')],
  priority: [undefined, 'critical', 'background'],
  importance: [undefined, 0, 0.5, 1],
  id: [undefined, 'x', 'y', 'z'],
  url: [undefined, undefined, 'https://x.example/y', 'http://u:p@x.example/y'],
  offset: [undefined, undefined, 0, 4096],
  extra: [undefined, { nested: true }],
};

/** Base URLs other than the default: two mirrors, a login and a query, a path to be made a folder. */
const BASES = [
  ['https://eu.example/m/', 'https://us.example/m'],
  ['https://u:p%40ss@cdn.example/m/?token=1', 'https://cdn.example/n/'],
  ['http://x.example'],
];

const BASELINE = { path: 'a.bin', size: 10, integrity: SHA256 };

function range(path: string, offset: number, size = 1): Record<string, unknown> {
  return { path, offset, size };
}

function withField(base: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const out = { ...base };
  if (value === undefined) delete out[field];
  else out[field] = value;
  return out;
}

/** A small deterministic generator, so that a failure names a case that can be run again. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function cases(): unknown[] {
  const out: unknown[] = [];
  const manifest = (fragments: unknown, extra: Record<string, unknown> = {}) => ({
    version: 1,
    baseUrls: ['https://cdn.example/m/'],
    fragments,
    ...extra,
  });
  // One field at a time against a valid fragment.
  for (const [field, values] of Object.entries(FIELD_VALUES)) {
    for (const value of values) out.push(manifest([withField(BASELINE, field, value)]));
  }
  // Random fragments, several per manifest.
  const random = seeded(7);
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  for (let i = 0; i < 400; i++) {
    const fragments = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
      let fragment: Record<string, unknown> = {};
      // Mostly plain values, so that whole manifests of them come up, and now and then any.
      for (const [field, values] of Object.entries(FIELD_VALUES)) {
        fragment = withField(fragment, field, pick(random() < 0.9 ? PLAIN_VALUES[field]! : values));
      }
      return fragment;
    });
    const roll = random();
    out.push(
      manifest(fragments, roll < 0.3 ? { baseUrls: pick(BASES) } : roll < 0.4 ? { baseUrls: undefined } : {}),
    );
  }
  // The document around the fragments.
  const fragment = { ...BASELINE };
  out.push(
    manifest([fragment], { version: 2 }),
    manifest([fragment], { version: undefined }),
    manifest([fragment], { name: 'tiny' }),
    manifest([fragment], { name: 5 }),
    manifest([fragment], { baseUrls: [] }),
    manifest([fragment], { baseUrls: ['ftp://x/'] }),
    manifest([fragment], { baseUrls: 'https://cdn.example/m/' }),
    manifest([fragment], { baseUrls: undefined }),
    manifest([]),
    manifest('fragments'),
    manifest([fragment, { ...fragment }]),
    manifest([
      { path: 'a', id: 'same' },
      { path: 'b', id: 'same' },
    ]),
    manifest([{ path: 'a' }, { path: 'b', id: 'a' }]),
    // Default ids of ranges are `path#offset`, and may meet a given id or a path.
    manifest([range('a', 5), range('a', 5, 2)]),
    manifest([range('a', 5), range('a', 6), range('b', 5)]),
    manifest([range('a', 5), { path: 'b', id: 'a#5' }]),
    manifest([{ path: 'b', id: 'a#5' }, range('a', 5)]),
    manifest([{ path: 'a#5' }, range('a', 5)]),
    manifest([range('a#1', 5), { path: 'a#1#5' }]),
    manifest([range('a#1', 5), { path: 'a#15' }, { path: 'b', id: 'a#1#05' }, { path: 'c', id: 'a#1#' }]),
    manifest([range('a', 0), range('a', 10), range('a', 20), { path: 'c', id: 'a#10' }]),
    manifest([range('a', 0), { path: 'x', id: 'a' }, { path: 'y', id: 'a#' }]),
    [fragment],
    null,
    'manifest',
  );
  return out;
}

/** What the schema makes of a manifest, or undefined when it refuses it. */
function bySchema(json: unknown, source: string) {
  try {
    return schemaManifest(json, source);
  } catch {
    return undefined;
  }
}

describe('directManifest', () => {
  it('gives what the schema gives, or leaves the manifest to it', () => {
    let direct = 0;
    let refused = 0;
    for (const json of cases()) {
      for (const source of ['m.json', 'https://hub.example/m/manifest.json']) {
        const schema = bySchema(json, source);
        const fast = directManifest(json, source);
        if (schema === undefined) refused++;
        if (fast === undefined) continue;
        direct++;
        expect(schema, JSON.stringify(json)).toBeDefined();
        expect(fast, JSON.stringify(json)).toEqual(schema);
        expect(fast.logins, JSON.stringify(json)).toEqual(schema!.logins);
      }
    }
    // Not vacuous: valid manifests are common among the cases, and so are invalid ones.
    expect(direct).toBeGreaterThan(200);
    expect(refused).toBeGreaterThan(100);
  });

  it('leaves every invalid manifest to the schema', () => {
    for (const json of cases()) {
      if (bySchema(json, 'm.json') === undefined) expect(directManifest(json, 'm.json')).toBeUndefined();
    }
  });

  it('takes the form `manifest create` writes', () => {
    const json = {
      version: 1,
      name: 'small',
      baseUrls: ['http://127.0.0.1:8089/small/'],
      fragments: [
        { path: 's0000.bin', size: 65536, integrity: SHA256 },
        { path: 's0001.bin', size: 65536, integrity: SHA256, priority: 'high', importance: 0.5, id: 'one' },
      ],
    };
    expect(directManifest(json, 'm.json')).toEqual(schemaManifest(json, 'm.json'));
  });

  it('on the property tests’ documents: gives what the schema gives, in the same order, or leaves the manifest to it', () => {
    // FRAGFETCH_PROPS_SEED=<seed> replays a failure, as in properties.test.ts.
    const seed = Number(process.env.FRAGFETCH_PROPS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    let direct = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.oneof(plausibleDocument, hostileDocument), (document) => {
        let json: unknown;
        try {
          json = JSON.parse(renderText(document));
        } catch {
          return; // text JSON.parse refuses is parseJson's, before either reader
        }
        let schema;
        try {
          schema = schemaManifest(json, 'm.json');
        } catch (error) {
          if (!(error instanceof FragfetchError)) throw error;
          refused++;
          expect(directManifest(json, 'm.json')).toBeUndefined();
          // The one-line message a user sees is the schema's.
          expect(() => parseManifest(json, 'm.json')).toThrow(error.message);
          return;
        }
        const fast = directManifest(json, 'm.json');
        if (fast === undefined) return;
        direct++;
        expect(fast).toEqual(schema);
        expect(fast.logins).toEqual(schema.logins);
        const order = (fragments: typeof fast.fragments) => fragments.map((f) => f.index);
        expect(order(orderFragments(fast.fragments))).toEqual(
          order([...schema.fragments].sort(compareFragments)),
        );
      }),
      { numRuns: 300, seed },
    );
    expect(direct).toBeGreaterThan(30);
    expect(refused).toBeGreaterThan(30);
  });
});
