import { describe, expect, it } from 'vitest';
import { plainManifest } from '../../src/manifest/plain.js';
import { manifestSchema } from '../../src/manifest/schema.js';

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
  url: [undefined, 'https://x.example/y', 'ftp://x/y'],
  offset: [undefined, 0, 10, -1],
  extra: [undefined, { nested: true }],
};

/** Values each field may take in a fragment of the plain form. */
const PLAIN_VALUES: Record<string, unknown[]> = {
  path: ['a.bin', 'dir/b c.bin', 'c', 'd/e/f'],
  size: [undefined, 0, 65536, Number.MAX_SAFE_INTEGER],
  integrity: [undefined, SHA256, FIELD_VALUES.integrity![2], SHA256.replace('=', '')],
  priority: [undefined, 'critical', 'background'],
  importance: [undefined, 0, 0.5, 1],
  id: [undefined, 'x', 'y', 'z'],
  url: [undefined],
  offset: [undefined],
  extra: [undefined, { nested: true }],
};

const BASELINE = { path: 'a.bin', size: 10, integrity: SHA256 };

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
    out.push(manifest(fragments));
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
    [fragment],
    null,
    'manifest',
  );
  return out;
}

describe('plainManifest', () => {
  it('gives what the schema gives, or leaves the manifest to it', () => {
    let plain = 0;
    for (const json of cases()) {
      const schema = manifestSchema.safeParse(json);
      const fast = plainManifest(json);
      if (fast === undefined) continue;
      plain++;
      expect(schema.success, JSON.stringify(json)).toBe(true);
      expect(fast, JSON.stringify(json)).toEqual(schema.data);
    }
    // Not vacuous: the plain form is common among the cases.
    expect(plain).toBeGreaterThan(100);
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
    expect(plainManifest(json)).toEqual(manifestSchema.parse(json));
  });
});
