import { rm } from 'node:fs/promises';
import type { Manifest } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { type CdnOptions, startCdn, type TestCdn } from './cdn.js';
import { tempDir } from './fixtures.js';

export interface Harness {
  cdn: TestCdn;
  cacheDir: string;
  /** A validated manifest whose base URL is the CDN's `/m/`. */
  manifest(fragments: Record<string, unknown>[], extra?: Record<string, unknown>): Manifest;
  close(): Promise<void>;
}

/** A test CDN and a fresh cache folder, torn down together. */
export async function harness(options: CdnOptions = {}): Promise<Harness> {
  const cdn = await startCdn(options);
  const cacheDir = await tempDir('fragfetch-cache-');
  return {
    cdn,
    cacheDir,
    manifest: (fragments, extra = {}) =>
      parseManifest(
        { version: 1, name: 'test', baseUrls: [cdn.url('/m/')], fragments, ...extra },
        'test.json',
      ),
    close: async () => {
      await cdn.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

/** Request log entries settle when responses close: wait a tick for the last ones. */
export async function settle(ms = 50): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}
