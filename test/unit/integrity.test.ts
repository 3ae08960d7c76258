import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashAlgorithms, integrityError, matchesIntegrity } from '../../src/fetch/integrity.js';
import type { Fragment } from '../../src/manifest/fragment.js';
import { parseIntegrity } from '../../src/manifest/integrity.js';
import { hashWhole } from '../../src/receive/hasher.js';

const bytes = Buffer.from('the bytes that arrived');
const sri = (algorithm: string, data: Buffer) =>
  `${algorithm}-${createHash(algorithm).update(data).digest('base64')}`;
const fragment = (integrity?: string): Fragment => ({
  id: 'f',
  path: 'f.bin',
  urls: ['https://cdn.example/f.bin'],
  size: bytes.length,
  ...(integrity === undefined ? {} : { integrity: parseIntegrity(integrity) }),
  priority: 'normal',
  importance: 0,
  index: 0,
});

describe('matchesIntegrity', () => {
  it('checks the declared algorithm, hashed beside the sha256 the cache needs', () => {
    const declared = fragment(sri('sha512', bytes));
    expect(hashAlgorithms(declared)).toEqual(['sha256', 'sha512']);
    expect(matchesIntegrity(declared, hashWhole(bytes, hashAlgorithms(declared)))).toBe(true);
    const other = hashWhole(Buffer.from('other bytes'), hashAlgorithms(declared));
    expect(matchesIntegrity(declared, other)).toBe(false);
  });

  it('takes any bytes for a fragment without integrity', () => {
    const plain = fragment();
    expect(hashAlgorithms(plain)).toEqual(['sha256']);
    expect(matchesIntegrity(plain, hashWhole(bytes, ['sha256']))).toBe(true);
  });

  it("names what was expected and what was found, or '?' when nothing was hashed", () => {
    const declared = fragment(sri('sha256', bytes));
    const found = hashWhole(Buffer.from('other bytes'), ['sha256']);
    const error = integrityError(declared, found);
    expect(error.code).toBe('EINTEGRITY');
    expect(error).toMatchObject({
      expected: declared.integrity?.sri,
      found: `sha256-${found.get('sha256')}`,
    });
    expect(integrityError(declared, new Map()).found).toBe('sha256-?');
  });
});
