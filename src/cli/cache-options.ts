import { Option } from 'commander';
import { FragfetchError } from '../errors.js';
import type { CacheMode } from '../fetch/revalidate.js';
import { parseSize } from '../units.js';
import { parseDurationOption, parseSizeOption } from './options.js';

/** What commander hands an action for the options below. */
export interface CacheFlags {
  offline?: boolean;
  preferOffline?: boolean;
  preferOnline?: boolean;
  maxCacheSize?: number;
}

/** How `fetch` and `mirror` use the cache: the modes of npm, and a size bound as in `hf cache prune`. */
export function cacheModeOptions(): Option[] {
  return [
    new Option('--offline', 'use only the cache, send no request; a missing fragment fails').conflicts([
      'preferOffline',
      'preferOnline',
    ]),
    new Option('--prefer-offline', 'use cached entries without revalidating them').conflicts('preferOnline'),
    new Option('--prefer-online', 'revalidate every cached entry, even those with integrity'),
    new Option(
      '--max-cache-size <size>',
      'after the run, prune least-recently used content above SIZE (env FRAGFETCH_MAX_CACHE_SIZE)',
    ).argParser(parseSizeOption),
  ];
}

export function cacheModeOf(flags: CacheFlags): CacheMode {
  if (flags.offline) return 'offline';
  if (flags.preferOffline) return 'prefer-offline';
  if (flags.preferOnline) return 'prefer-online';
  return 'default';
}

/**
 * `--max-cache-size`, else FRAGFETCH_MAX_CACHE_SIZE (read from the CLI's env seam, so tests can set
 * it); a bad value in the environment is a usage error as a bad flag is.
 */
export function maxCacheSizeOf(
  flags: CacheFlags,
  env: Record<string, string | undefined>,
): number | undefined {
  if (flags.maxCacheSize !== undefined) return flags.maxCacheSize;
  const text = env.FRAGFETCH_MAX_CACHE_SIZE;
  if (!text) return undefined;
  try {
    return parseSize(text);
  } catch (error) {
    throw new FragfetchError('EUSAGE', `FRAGFETCH_MAX_CACHE_SIZE: ${(error as Error).message}`);
  }
}

/** The engine options the flags above stand for: spread into FetchOptions. */
export function cacheFetchOptions(
  flags: CacheFlags,
  env: Record<string, string | undefined>,
): { cacheMode: CacheMode; maxCacheSize?: number } {
  const maxCacheSize = maxCacheSizeOf(flags, env);
  return { cacheMode: cacheModeOf(flags), ...(maxCacheSize === undefined ? {} : { maxCacheSize }) };
}

/** A manifest behind a URL cannot be read offline: fragfetch does not cache manifests. */
export function assertManifestReachable(source: string, flags: CacheFlags): void {
  if (flags.offline && /^https?:\/\//i.test(source)) {
    throw new FragfetchError(
      'EOFFLINE',
      `cannot read the manifest ${source} with --offline: manifests are not cached; pass a local copy`,
    );
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * A cache age: the durations of every other option, plus days and weeks (`30d`, `2w`), the unit a
 * cache's age is thought of in.
 */
export const parseAgeOption = (text: string): number => {
  const match = /^(\d+(?:\.\d+)?)\s*(d|w)$/i.exec(text.trim());
  if (!match) return parseDurationOption(text);
  return Math.round(Number(match[1]) * DAY_MS * (match[2]!.toLowerCase() === 'w' ? 7 : 1));
};
