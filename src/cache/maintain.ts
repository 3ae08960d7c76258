import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import cacache from 'cacache';
import { FragfetchError } from '../errors.js';
import type { Manifest } from '../manifest/fragment.js';
import { TEMP_FOLDER } from './cacache-format.js';
import { historyPath } from './history.js';
import { type EntryFacts, PARTIAL_MAX_AGE_MS, type PrunePolicy, selectPrune } from './policy.js';
import { cacheKey, type EntryMetadata } from './store.js';

/** cacache's rm.entry takes options its type declarations omit. */
const removeEntry = cacache.rm.entry as (
  cache: string,
  key: string,
  options: { removeFully: boolean },
) => Promise<unknown>;

/** One index entry as `cache ls` shows it. */
export interface CacheEntry extends EntryFacts {
  /** The fragment id and manifest name it was stored for, when fragfetch stored it. */
  id: string | null;
  manifest: string | null;
  url: string | null;
}

/** Every live index entry (cacache keeps the newest line of each key), oldest use first. */
export async function listEntries(cacheDir: string): Promise<CacheEntry[]> {
  let listed: Record<string, cacache.CacheObject>;
  try {
    listed = await cacache.ls(cacheDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new FragfetchError('ECACHE', `cannot read the cache ${cacheDir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return Object.values(listed)
    .filter((entry) => typeof entry.integrity === 'string')
    .map((entry) => {
      const metadata = entry.metadata as Partial<EntryMetadata> | undefined;
      return {
        key: entry.key,
        integrity: entry.integrity,
        size: entry.size ?? 0,
        time: entry.time,
        id: metadata?.id ?? null,
        manifest: metadata?.manifest ?? null,
        url: metadata?.url ?? null,
      };
    })
    .sort((a, b) => a.time - b.time || a.key.localeCompare(b.key));
}

/** The keys a manifest's fragments are stored under: what a prune must never drop for it. */
export function keysOf(manifests: readonly Manifest[]): Set<string> {
  return new Set(manifests.flatMap((manifest) => manifest.fragments.map(cacheKey)));
}

export interface PruneResult {
  entriesRemoved: number;
  bytesFreed: number;
  bytesLeft: number;
  partialsRemoved: number;
}

/**
 * Applies a prune policy: index entries first (removed fully, bucket and all), then the content no
 * remaining entry refers to. An entry that a concurrent run writes meanwhile may lose its content;
 * that run's next lookup sees the missing file and fetches it again.
 */
export async function pruneCache(
  cacheDir: string,
  policy: PrunePolicy,
  options: { partials?: boolean; dryRun?: boolean } = {},
): Promise<PruneResult> {
  const selection = selectPrune(await listEntries(cacheDir), policy);
  if (!options.dryRun) {
    for (const entry of selection.drop) {
      // removeFully drops the bucket: cacache's default only appends a tombstone line.
      await removeEntry(cacheDir, entry.key, { removeFully: true });
    }
    for (const integrity of selection.freedContent.keys()) {
      await cacache.rm.content(cacheDir, integrity).catch(() => {});
    }
  }
  const partialsRemoved = options.partials
    ? await cleanPartials(cacheDir, policy.now ?? Date.now(), options.dryRun)
    : 0;
  return {
    entriesRemoved: selection.drop.length,
    bytesFreed: selection.bytesFreed,
    bytesLeft: selection.bytesLeft,
    partialsRemoved,
  };
}

/**
 * After a run: least-recently used content goes until the cache holds at most `maxSize` bytes, never
 * what `manifest` needs (so a manifest larger than the limit keeps all of itself, and nothing else).
 */
export function enforceMaxCacheSize(
  cacheDir: string,
  maxSize: number,
  manifests: readonly Manifest[],
): Promise<PruneResult> {
  return pruneCache(cacheDir, { maxSize, keep: keysOf(manifests) });
}

/**
 * Removes partial downloads (and lock files) untouched for longer than PARTIAL_MAX_AGE_MS: a run
 * that was interrupted and never resumed. A partial still being written is fresh, so it stays. So
 * do temporary files of content a killed run was storing (`<cache>/tmp/`, never resumed).
 */
export async function cleanPartials(cacheDir: string, now: number, dryRun = false): Promise<number> {
  let removed = 0;
  for (const folder of ['partial', TEMP_FOLDER]) {
    const root = join(cacheDir, folder);
    const names = await readdir(root).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(root, name);
      const newest = await newestMtime(path);
      if (newest === undefined || now - newest <= PARTIAL_MAX_AGE_MS) continue;
      if (!dryRun) await rm(path, { recursive: true, force: true });
      if (!name.endsWith('.lock')) removed++;
    }
  }
  return removed;
}

async function newestMtime(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    if (!info.isDirectory()) return info.mtimeMs;
    const children = await readdir(path);
    const times = await Promise.all(children.map((child) => newestMtime(join(path, child))));
    return Math.max(info.mtimeMs, ...times.filter((time): time is number => time !== undefined));
  } catch {
    return undefined;
  }
}

export interface VerifyResult {
  verifiedContent: number;
  reclaimedCount: number;
  reclaimedSize: number;
  badContentCount: number;
  keptSize: number;
  missingContent: number;
  rejectedEntries: number;
  totalEntries: number;
  durationMs: number;
}

/** cacache.verify: re-hashes all content, drops the corrupt, rebuilds the index, collects garbage. */
export async function verifyCache(cacheDir: string): Promise<VerifyResult> {
  const stats = (await cacache.verify(cacheDir)) as Record<string, unknown>;
  const count = (name: string) => (typeof stats[name] === 'number' ? stats[name] : 0);
  const runTime = stats.runTime as { total?: number } | undefined;
  return {
    verifiedContent: count('verifiedContent'),
    reclaimedCount: count('reclaimedCount'),
    reclaimedSize: count('reclaimedSize'),
    badContentCount: count('badContentCount'),
    keptSize: count('keptSize'),
    missingContent: count('missingContent'),
    rejectedEntries: count('rejectedEntries'),
    totalEntries: count('totalEntries'),
    durationMs: runTime?.total ?? 0,
  };
}

/** Everything fragfetch keeps in the folder; the folder itself stays (it may be a mount point). */
export async function clearCache(cacheDir: string): Promise<void> {
  await cacache.rm.all(cacheDir);
  // cacache.rm.all leaves its own tmp folder.
  await rm(join(cacheDir, TEMP_FOLDER), { recursive: true, force: true });
  await rm(join(cacheDir, 'partial'), { recursive: true, force: true });
  await rm(historyPath(cacheDir), { force: true });
}

/** Partial downloads waiting to be resumed, and the bytes they hold. */
export async function partialUsage(cacheDir: string): Promise<{ count: number; bytes: number }> {
  const root = join(cacheDir, 'partial');
  const names = await readdir(root).catch(() => [] as string[]);
  let count = 0;
  let bytes = 0;
  for (const name of names) {
    if (name.endsWith('.lock')) continue;
    count++;
    bytes += (await stat(join(root, name, 'data')).catch(() => undefined))?.size ?? 0;
  }
  return { count, bytes };
}
