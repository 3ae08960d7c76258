import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type Captured } from '../support/cli.js';
import { tempDir } from '../support/fixtures.js';
import type { Harness } from '../support/harness.js';

/** A manifest file served from the harness CDN's `/m/`, written next to the cache. */
export async function writeManifest(
  h: Harness,
  fragments: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): Promise<string> {
  const dir = await tempDir('fragfetch-manifest-');
  const file = join(dir, 'manifest.json');
  await writeFile(
    file,
    JSON.stringify({ version: 1, name: 'mirror-test', baseUrls: [h.cdn.url('/m/')], fragments, ...extra }),
  );
  return file;
}

/** `fragfetch mirror <manifest> <dir> --cache <cache> --json --no-progress ...extra`, parsed. */
export async function mirror(
  manifest: string,
  dir: string,
  cacheDir: string,
  extra: string[] = [],
  // The report is probed field by field with toMatchObject: a loose type keeps the tests readable.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<Captured & { report: any }> {
  const result = await runCli([
    'mirror',
    manifest,
    dir,
    '--cache',
    cacheDir,
    '--json',
    '--no-progress',
    ...extra,
  ]);
  let report: unknown;
  try {
    report = JSON.parse(result.stdout);
  } catch {
    report = undefined;
  }
  return { ...result, report };
}

export function read(dir: string, path: string): Promise<Buffer> {
  return readFile(join(dir, ...path.split('/')));
}
