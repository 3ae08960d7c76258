import { appendFile, truncate, writeFile } from 'node:fs/promises';
import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bucketPath } from '../../src/cache/cacache-format.js';
import { cacheKey } from '../../src/cache/store.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import { runCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;
const body = randomBytesSeeded(10_000, 7);

beforeEach(async () => {
  h = await harness();
  h.cdn.set('/m/c.bin', body);
});
afterEach(async () => {
  await h.close();
});

const manifest = () => h.manifest([{ path: 'c.bin', size: body.length, integrity: sriOf(body) }]);

async function fetchWithWarnings() {
  const warnings: string[] = [];
  const report = await fetchManifest(manifest(), {
    cacheDir: h.cacheDir,
    observer: { warn: (message) => warnings.push(message) },
  });
  return { report, warnings };
}

describe('a corrupt cache is detected on use', () => {
  it('re-downloads a truncated content file, with a warning', async () => {
    await fetchWithWarnings();
    const info = await cacache.get.info(h.cacheDir, cacheKey(manifest().fragments[0]!));
    await truncate(info!.path, 100);
    h.cdn.reset();
    const { report, warnings } = await fetchWithWarnings();
    expect(report.fragments).toMatchObject({ downloaded: 1, cached: 0, failed: 0 });
    expect(warnings.join('\n')).toMatch(/cached content of c\.bin is corrupt \(100 bytes, expected 10000\)/);
    // The entry is whole again: the next run is a hit.
    expect((await fetchWithWarnings()).report.fragments.cached).toBe(1);
  });

  it('treats garbage in an index bucket as a miss, with a warning, and never throws', async () => {
    await fetchWithWarnings();
    const bucket = bucketPath(h.cacheDir, cacheKey(manifest().fragments[0]!));
    await writeFile(bucket, 'garbage\tnot json\n\u0000\u0001');
    const { report, warnings } = await fetchWithWarnings();
    expect(report.fragments).toMatchObject({ downloaded: 1, failed: 0 });
    expect(warnings.join('\n')).toMatch(/cache index of c\.bin is damaged/);
    expect((await fetchWithWarnings()).report.fragments.cached).toBe(1);
  });

  it('ignores garbage appended to a bucket that still holds a valid line', async () => {
    await fetchWithWarnings();
    const bucket = bucketPath(h.cacheDir, cacheKey(manifest().fragments[0]!));
    await appendFile(bucket, '\nnonsense\t{"key":');
    h.cdn.reset();
    const { report, warnings } = await fetchWithWarnings();
    await h.cdn.idle();
    expect(report.fragments.cached).toBe(1);
    expect(warnings).toEqual([]);
    expect(h.cdn.requests).toHaveLength(0);
  });

  it('prints the fetch warning on stderr from the CLI', async () => {
    await fetchWithWarnings();
    const info = await cacache.get.info(h.cacheDir, cacheKey(manifest().fragments[0]!));
    await truncate(info!.path, 1);
    const file = await h.manifestFile([{ path: 'c.bin', size: body.length, integrity: sriOf(body) }]);
    const result = await runCli(['fetch', file, '--cache', h.cacheDir]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/fragfetch: warning: cached content of c\.bin is corrupt/);
  });
});

describe('fragfetch cache verify', () => {
  it('drops corrupt content and reports it', async () => {
    await fetchWithWarnings();
    const info = await cacache.get.info(h.cacheDir, cacheKey(manifest().fragments[0]!));
    // Same size, other bytes: only a re-hash finds this.
    await writeFile(info!.path, Buffer.alloc(body.length, 1));
    const result = await runCli(['cache', 'verify', '--cache', h.cacheDir, '--json']);
    expect(result.code).toBe(0);
    const verify = JSON.parse(result.stdout);
    expect(verify).toMatchObject({ badContentCount: 1, verifiedContent: 0 });
    const human = await runCli(['cache', 'ls', '--cache', h.cacheDir]);
    expect(human.stdout).toBe('');
    // The fragment comes back on the next fetch.
    expect((await fetchWithWarnings()).report.fragments.downloaded).toBe(1);
    const clean = await runCli(['cache', 'verify', '--cache', h.cacheDir]);
    expect(clean.stdout).toMatch(/verified 1 content file \(/);
    expect(clean.stdout).toMatch(/corrupt content removed: 0/);
  });

  it('rebuilds a bucket with garbage lines', async () => {
    await fetchWithWarnings();
    const bucket = bucketPath(h.cacheDir, cacheKey(manifest().fragments[0]!));
    await appendFile(bucket, '\ngarbage');
    const result = await runCli(['cache', 'verify', '--cache', h.cacheDir, '--json']);
    expect(JSON.parse(result.stdout)).toMatchObject({ verifiedContent: 1, totalEntries: 1 });
    expect((await fetchWithWarnings()).report.fragments.cached).toBe(1);
  });
});
