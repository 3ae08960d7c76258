import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FetchReport } from '../fetch/report.js';

/** One finished `fetch` or `mirror` run, as `cache stats` shows it. */
export interface RunRecord {
  at: string;
  manifest: string | null;
  fragments: number;
  hits: number;
  misses: number;
  revalidated: number;
  bytesDownloaded: number;
  ok: boolean;
}

/** Enough runs for a trend, small enough to rewrite whole on every run. */
export const HISTORY_LENGTH = 50;

/** `<cache>/fragfetch-runs.json`: beside cacache's folders, never inside them. */
export function historyPath(cacheDir: string): string {
  return join(cacheDir, 'fragfetch-runs.json');
}

export async function readHistory(cacheDir: string): Promise<RunRecord[]> {
  try {
    const parsed: unknown = JSON.parse(await readFile(historyPath(cacheDir), 'utf8'));
    return Array.isArray(parsed) ? (parsed as RunRecord[]) : [];
  } catch {
    return [];
  }
}

export function recordOf(report: FetchReport, at = new Date()): RunRecord {
  return {
    at: at.toISOString(),
    manifest: report.manifest.name,
    fragments: report.fragments.total,
    hits: report.cache.hits,
    misses: report.cache.misses,
    revalidated: report.fragments.revalidated,
    bytesDownloaded: report.bytes.downloaded,
    ok: report.ok,
  };
}

/**
 * Appends a run, keeping the last HISTORY_LENGTH. Written to a temporary name and renamed: two
 * concurrent runs may lose one record to each other, never corrupt the file. Best effort: statistics
 * never fail a download.
 */
export async function appendHistory(cacheDir: string, record: RunRecord): Promise<void> {
  try {
    const runs = [...(await readHistory(cacheDir)), record].slice(-HISTORY_LENGTH);
    const temp = `${historyPath(cacheDir)}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(runs));
    await rename(temp, historyPath(cacheDir));
  } catch {
    // A read-only or vanished cache folder: nothing to record.
  }
}

/** Hits over lookups of the recorded runs; undefined before the first run. */
export function historyHitRate(runs: readonly RunRecord[]): number | undefined {
  const hits = runs.reduce((sum, run) => sum + run.hits, 0);
  const lookups = runs.reduce((sum, run) => sum + run.hits + run.misses, 0);
  return lookups === 0 ? undefined : hits / lookups;
}
