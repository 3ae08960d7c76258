import { FragfetchError } from '../errors.js';

/** The disk, or the user's quota, is full: no retry can help, and the user must act. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** ENOSPC, named with the cache folder: what to free, or where else to point `--cache`. */
export function diskFullError(cacheDir: string, what: string, cause: unknown): FragfetchError {
  return new FragfetchError(
    'ENOSPC',
    `no space left on the disk of the cache ${cacheDir} (${what}): free some space or choose another --cache`,
    { cause },
  );
}
