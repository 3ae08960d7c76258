import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type Captured } from '../support/cli.js';
import type { Harness } from '../support/harness.js';

/** A manifest file served from the harness CDN's `/m/`, written beside the cache and removed with it. */
export function writeManifest(
  h: Harness,
  fragments: Record<string, unknown>[],
  extra: Record<string, unknown> = {},
): Promise<string> {
  return h.manifestFile(fragments, { name: 'mirror-test', ...extra });
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
