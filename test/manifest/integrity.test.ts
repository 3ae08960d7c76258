import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isFragfetchError } from '../../src/errors.js';
import { integrityKey, parseIntegrity } from '../../src/manifest/integrity.js';

const EMPTY_SHA256_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EMPTY_SHA256_B64 = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';

function digests(algorithm: string, data = 'fragfetch') {
  const hash = createHash(algorithm).update(data).digest();
  return { hex: hash.toString('hex'), base64: hash.toString('base64') };
}

function problem(value: string): string {
  try {
    parseIntegrity(value);
  } catch (error) {
    expect(isFragfetchError(error, 'EMANIFEST')).toBe(true);
    return (error as Error).message;
  }
  throw new Error(`expected ${value} to be rejected`);
}

describe('parseIntegrity', () => {
  it.each(['sha256', 'sha384', 'sha512'] as const)('accepts the SRI form of %s', (algorithm) => {
    const { base64 } = digests(algorithm);
    expect(parseIntegrity(`${algorithm}-${base64}`)).toEqual({
      algorithm,
      digest: base64,
      sri: `${algorithm}-${base64}`,
    });
  });

  it.each(['sha256', 'sha512'] as const)('accepts the hex form of %s, in either case', (algorithm) => {
    const { hex, base64 } = digests(algorithm);
    const expected = { algorithm, digest: base64, sri: `${algorithm}-${base64}` };
    expect(parseIntegrity(`${algorithm}:${hex}`)).toEqual(expected);
    expect(parseIntegrity(`${algorithm}:${hex.toUpperCase()}`)).toEqual(expected);
  });

  it('gives hex and base64 spellings of one hash the same digest and key', () => {
    const fromHex = parseIntegrity(`sha256:${EMPTY_SHA256_HEX}`);
    const fromSri = parseIntegrity(`sha256-${EMPTY_SHA256_B64}`);
    expect(fromHex.digest).toBe(fromSri.digest);
    expect(integrityKey(fromHex)).toBe(integrityKey(fromSri));
    expect(integrityKey(fromHex)).toBe(`sha256-${EMPTY_SHA256_B64}`);
  });

  it('normalises unpadded base64', () => {
    expect(parseIntegrity(`sha256-${EMPTY_SHA256_B64.replace(/=$/, '')}`).sri).toBe(
      `sha256-${EMPTY_SHA256_B64}`,
    );
  });

  it('rejects a base64 digest of the wrong length for its algorithm', () => {
    const { base64 } = digests('sha512');
    expect(problem(`sha256-${base64}`)).toBe(
      `invalid integrity "sha256-${base64}": a sha256 digest is 32 bytes, this base64 decodes to 64`,
    );
    expect(problem(`sha384-${EMPTY_SHA256_B64}`)).toMatch(/a sha384 digest is 48 bytes/);
  });

  it('rejects a hex digest of the wrong length', () => {
    expect(problem(`sha512:${EMPTY_SHA256_HEX}`)).toBe(
      `invalid integrity "sha512:${EMPTY_SHA256_HEX}": a sha512 hex digest is 128 characters, found 64`,
    );
    expect(problem(`sha256:${EMPTY_SHA256_HEX.slice(1)}`)).toMatch(/is 64 characters, found 63/);
  });

  it('rejects base64 whose trailing bits were mangled', () => {
    // The last character carries 4 unused bits; `V` and `W` decode to the same bytes.
    expect(problem(`sha256-${EMPTY_SHA256_B64.replace('FU=', 'FV=')}`)).toMatch(/not valid base64/);
  });

  it('names an unsupported algorithm', () => {
    expect(problem('md5-1B2M2Y8AsgTpgAmY7PhCfg==')).toBe(
      'invalid integrity "md5-1B2M2Y8AsgTpgAmY7PhCfg==": unsupported algorithm "md5" (use sha256, sha384 or sha512)',
    );
    expect(problem('sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709')).toMatch(/unsupported algorithm "sha1"/);
  });

  it.each([
    '',
    EMPTY_SHA256_B64,
    EMPTY_SHA256_HEX,
    `SHA256-${EMPTY_SHA256_B64}`,
    `sha256-${EMPTY_SHA256_B64} `,
    `sha256:${EMPTY_SHA256_B64}`,
    `sha384:${'ab'.repeat(48)}`,
    `sha256-${EMPTY_SHA256_HEX}`,
    `sha256:${'g'.repeat(64)}`,
    `sha256-${EMPTY_SHA256_B64} sha512-${digests('sha512').base64}`,
  ])('rejects %j', (value) => {
    expect(problem(value)).toMatch(/^invalid integrity ".*": /);
  });

  it('abbreviates a very long value in the message', () => {
    const message = problem(`sha256-${'A'.repeat(500)}`);
    expect(message.length).toBeLessThan(250);
    expect(message).not.toContain('\n');
  });
});
