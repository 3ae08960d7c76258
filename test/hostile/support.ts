import { rm } from 'node:fs/promises';
import cacache from 'cacache';
import { expect } from 'vitest';
import { cacheKey } from '../../src/cache/store.js';
import { type FetchOptions, fetchManifest } from '../../src/fetch/engine.js';
import type { FetchReport } from '../../src/fetch/report.js';
import type { Fragment, Manifest } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { tempDir } from '../support/fixtures.js';
import { type RawServer, startRawServer } from './raw-server.js';

/** Small enough that a 4000-byte object is fetched as four ranges: the splices a hostile server tries. */
export const SPLIT = { splitThreshold: 1000, chunkSize: 1000, maxConnectionsPerObject: 1 } as const;

export interface Hostile {
  server: RawServer;
  cacheDir: string;
  /** A manifest of the fragments, from the server's `/`, or from each of `bases` (mirrors, in order). */
  manifest(fragments: Record<string, unknown>[], bases?: string[]): Manifest;
  /** A fetch with fast retries; the report, whatever happened. */
  fetch(manifest: Manifest, extra?: Partial<FetchOptions>): Promise<FetchReport>;
  /** The bytes the cache holds for a fragment, or undefined. */
  cached(fragment: Fragment): Promise<Buffer | undefined>;
  /** cacache.verify finds nothing wrong, and holds `entries` contents. */
  expectSound(entries: number): Promise<void>;
  close(): Promise<void>;
}

export async function hostile(): Promise<Hostile> {
  const server = await startRawServer();
  const cacheDir = await tempDir('fragfetch-hostile-');
  return {
    server,
    cacheDir,
    manifest: (fragments, bases = ['/']) =>
      parseManifest(
        { version: 1, name: 'hostile', baseUrls: bases.map((base) => server.url(base)), fragments },
        'hostile.json',
      ),
    fetch: (manifest, extra = {}) =>
      fetchManifest(manifest, { cacheDir, baseDelayMs: 1, retries: 2, history: false, ...extra }),
    cached: async (fragment) => {
      const info = await cacache.get.info(cacheDir, cacheKey(fragment));
      return info ? (await cacache.get(cacheDir, cacheKey(fragment))).data : undefined;
    },
    expectSound: async (entries) => {
      const stats = await cacache.verify(cacheDir);
      expect(stats.badContentCount).toBe(0);
      expect(stats.verifiedContent).toBe(entries);
    },
    close: async () => {
      await server.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

/** The one failure of a report: its code and message. */
export function failure(report: FetchReport): { code: string; message: string } {
  expect(report.failures).toHaveLength(1);
  return report.failures[0]!.error;
}
