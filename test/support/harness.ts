import { rm, writeFile } from 'node:fs/promises';
import type { Manifest } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { type CdnOptions, startCdn, type TestCdn } from './cdn.js';
import { tempDir } from './fixtures.js';

export interface Harness {
  cdn: TestCdn;
  cacheDir: string;
  /** A validated manifest whose base URL is the CDN's `/m/`. */
  manifest(fragments: Record<string, unknown>[], extra?: Record<string, unknown>): Manifest;
  /** The same manifest written to a file beside the cache, for the CLI; removed by close(). */
  manifestFile(fragments: Record<string, unknown>[], extra?: Record<string, unknown>): Promise<string>;
  /** Any JSON value (or raw text) written to a file beside the cache; removed by close(). */
  jsonFile(content: unknown): Promise<string>;
  close(): Promise<void>;
}

/** A test CDN and a fresh cache folder, torn down together. */
export async function harness(options: CdnOptions = {}): Promise<Harness> {
  const cdn = await startCdn(options);
  const cacheDir = await tempDir('fragfetch-cache-');
  const json = (fragments: Record<string, unknown>[], extra: Record<string, unknown>) => ({
    version: 1,
    name: 'test',
    baseUrls: [cdn.url('/m/')],
    fragments,
    ...extra,
  });
  const files: string[] = [];
  const jsonFile = async (content: unknown) => {
    const file = `${cacheDir}-${files.length}.json`;
    files.push(file);
    await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  };
  return {
    cdn,
    cacheDir,
    manifest: (fragments, extra = {}) => parseManifest(json(fragments, extra), 'test.json'),
    manifestFile: (fragments, extra = {}) => jsonFile(json(fragments, extra)),
    jsonFile,
    close: async () => {
      await cdn.close();
      await rm(cacheDir, { recursive: true, force: true });
      for (const file of files) await rm(file, { force: true });
    },
  };
}
