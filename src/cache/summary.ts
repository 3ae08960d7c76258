import { historyHitRate, type RunRecord } from './history.js';
import type { CacheEntry } from './maintain.js';

/** `fragfetch cache stats --json`. */
export interface CacheSummary {
  dir: string;
  entries: number;
  /** Bytes of content, each shared content counted once. */
  bytes: number;
  oldest: string | null;
  newest: string | null;
  manifests: { name: string | null; entries: number; bytes: number }[];
  partials: { count: number; bytes: number };
  runs: {
    count: number;
    /** Hits over lookups of the recorded runs; null before the first run. */
    hitRate: number | null;
    last: RunRecord | null;
  };
}

/** How the cache's entries, partial downloads and recorded runs add up; no I/O. */
export function summarizeCache(
  dir: string,
  entries: readonly CacheEntry[],
  runs: readonly RunRecord[],
  partials: { count: number; bytes: number },
): CacheSummary {
  const content = new Map<string, number>();
  const byManifest = new Map<string | null, { entries: number; content: Map<string, number> }>();
  for (const entry of entries) {
    content.set(entry.integrity, entry.size);
    const group = byManifest.get(entry.manifest) ?? { entries: 0, content: new Map<string, number>() };
    group.entries++;
    group.content.set(entry.integrity, entry.size);
    byManifest.set(entry.manifest, group);
  }
  const times = entries.map((entry) => entry.time);
  const iso = (time: number | undefined) => (time === undefined ? null : new Date(time).toISOString());
  const sum = (sizes: Map<string, number>) => [...sizes.values()].reduce((total, size) => total + size, 0);
  return {
    dir,
    entries: entries.length,
    bytes: sum(content),
    oldest: iso(times.length ? Math.min(...times) : undefined),
    newest: iso(times.length ? Math.max(...times) : undefined),
    manifests: [...byManifest]
      .map(([name, group]) => ({ name, entries: group.entries, bytes: sum(group.content) }))
      .sort((a, b) => b.bytes - a.bytes),
    partials,
    runs: { count: runs.length, hitRate: historyHitRate(runs) ?? null, last: runs.at(-1) ?? null },
  };
}
