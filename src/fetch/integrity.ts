import { FragfetchError } from '../errors.js';
import type { Fragment } from '../manifest/fragment.js';

/** The algorithms to hash a fragment with: sha256 for the cache, and the manifest's own if another. */
export function hashAlgorithms(fragment: Fragment): string[] {
  const declared = fragment.integrity?.algorithm;
  return declared && declared !== 'sha256' ? ['sha256', declared] : ['sha256'];
}

/**
 * The one check of a fragment's received bytes against its manifest entry, whichever path received
 * them (an object download, the short path of small objects, a cut of a whole object): `digests` by
 * algorithm, as hashAlgorithms asked for. A fragment that declares no integrity matches anything.
 */
export function matchesIntegrity(fragment: Fragment, digests: ReadonlyMap<string, string>): boolean {
  const expected = fragment.integrity;
  return !expected || digests.get(expected.algorithm) === expected.digest;
}

/** The error of bytes whose `digests` do not match the fragment's integrity. */
export function integrityError(fragment: Fragment, digests: ReadonlyMap<string, string>): FragfetchError {
  const algorithm = fragment.integrity?.algorithm ?? 'sha256';
  const found = `${algorithm}-${digests.get(algorithm) ?? '?'}`;
  return new FragfetchError(
    'EINTEGRITY',
    `${fragment.id}: integrity mismatch: expected ${fragment.integrity?.sri}, got ${found}`,
    { expected: fragment.integrity?.sri, found, url: fragment.urls[0] },
  );
}
