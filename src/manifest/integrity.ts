import { FragfetchError } from '../errors.js';
import type { HashAlgorithm, Integrity } from './fragment.js';

const DIGEST_BYTES: Record<HashAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };

const SRI = /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})$/;

/** Canonical base64 of each digest length: padded, unused low bits zero (what encoders write). */
const CANONICAL: Record<HashAlgorithm, RegExp> = {
  sha256: /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/,
  sha384: /^[A-Za-z0-9+/]{64}$/,
  sha512: /^[A-Za-z0-9+/]{85}[AQgw]==$/,
};
const HEX = /^(sha256|sha512):([0-9A-Fa-f]+)$/;
const ALGORITHM_PREFIX = /^([A-Za-z0-9]+)[-:]/;

const EXPECTED_FORMS =
  'expected sha256-/sha384-/sha512- followed by base64, or sha256:/sha512: followed by hex';

/**
 * Parses one integrity declaration, or returns why it is invalid. The reason is separate from the
 * thrown error so that the schema can report it under the field's path without repeating itself.
 */
export function checkIntegrity(value: string): Integrity | string {
  const sri = SRI.exec(value);
  if (sri) {
    const algorithm = sri[1] as HashAlgorithm;
    const encoded = sri[2]!;
    // Nothing to normalise: no decoding and re-encoding, 2000 times in a large manifest's start.
    if (CANONICAL[algorithm].test(encoded)) return { algorithm, digest: encoded, sri: value };
    const bytes = Buffer.from(encoded, 'base64');
    const expected = DIGEST_BYTES[algorithm];
    if (bytes.length !== expected) {
      return `a ${algorithm} digest is ${expected} bytes, this base64 decodes to ${bytes.length}`;
    }
    const digest = bytes.toString('base64');
    // Node's decoder ignores stray bits and bad padding; re-encoding catches digests that were mangled.
    if (digest.replace(/=+$/, '') !== encoded.replace(/=+$/, ''))
      return `the ${algorithm} digest is not valid base64`;
    return { algorithm, digest, sri: `${algorithm}-${digest}` };
  }

  const hex = HEX.exec(value);
  if (hex) {
    const algorithm = hex[1] as HashAlgorithm;
    const digits = hex[2]!;
    const expected = DIGEST_BYTES[algorithm] * 2;
    if (digits.length !== expected) {
      return `a ${algorithm} hex digest is ${expected} characters, found ${digits.length}`;
    }
    const digest = Buffer.from(digits, 'hex').toString('base64');
    return { algorithm, digest, sri: `${algorithm}-${digest}` };
  }

  const prefix = ALGORITHM_PREFIX.exec(value)?.[1];
  if (prefix !== undefined && !(prefix in DIGEST_BYTES)) {
    return `unsupported algorithm "${prefix}" (use sha256, sha384 or sha512)`;
  }
  return EXPECTED_FORMS;
}

/** Accepts the SRI form (`sha256-<base64>`) and the hex form (`sha256:<hex>`), normalised to SRI. */
export function parseIntegrity(value: string): Integrity {
  const result = checkIntegrity(value);
  if (typeof result === 'string') {
    throw new FragfetchError('EMANIFEST', `invalid integrity "${abbreviate(value)}": ${result}`);
  }
  return result;
}

/** The key under which content is addressed: the SRI string, equal for both spellings of one hash. */
export function integrityKey(integrity: Integrity): string {
  return integrity.sri;
}

function abbreviate(value: string): string {
  return value.length > 160 ? `${value.slice(0, 157)}...` : value;
}
