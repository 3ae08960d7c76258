import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendHistory, HISTORY_LENGTH, readHistory, type RunRecord } from '../../src/cache/history.js';
import { cacheKey } from '../../src/cache/store.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import type { Manifest } from '../../src/manifest/fragment.js';
import { runCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;
const KIB = 1024;

beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** A manifest file on disk named `name`, of fragments of `sizes` bytes, served by the CDN. */
async function served(name: string, sizes: number[]): Promise<{ file: string; manifest: Manifest }> {
  const fragments = sizes.map((size, i) => {
    const body = randomBytesSeeded(size, `${name}-${i}`);
    h.cdn.set(`/m/${name}-${i}.bin`, body);
    return { path: `${name}-${i}.bin`, size, integrity: sriOf(body) };
  });
  const json = { version: 1, name, baseUrls: [h.cdn.url('/m/')], fragments };
  const file = await h.jsonFile(json);
  return { file, manifest: h.manifest(fragments, { name }) };
}

/** Sets an entry's last use, as if it had been used at `time`. */
async function age(manifest: Manifest, index: number, time: number): Promise<void> {
  const key = cacheKey(manifest.fragments[index]!);
  const info = await cacache.get.info(h.cacheDir, key);
  await cacache.index.insert(h.cacheDir, key, info!.integrity, {
    size: info!.size,
    metadata: info!.metadata,
    time,
  } as cacache.index.InsertOptions);
}

const keys = async () => Object.keys(await cacache.ls(h.cacheDir)).sort();
const cli = (...argv: string[]) => runCli([...argv, '--cache', h.cacheDir]);

describe('fragfetch cache stats and ls', () => {
  it('counts entries, bytes by manifest, oldest and newest, and the hit rate of the last runs', async () => {
    const a = await served('alpha', [10 * KIB, 20 * KIB]);
    const b = await served('beta', [5 * KIB]);
    expect((await cli('fetch', a.file)).code).toBe(0);
    expect((await cli('fetch', a.file)).code).toBe(0); // all hits
    expect((await cli('fetch', b.file)).code).toBe(0);
    const result = await cli('cache', 'stats', '--json');
    expect(result.code).toBe(0);
    const stats = JSON.parse(result.stdout);
    expect(stats).toMatchObject({ entries: 3, bytes: 35 * KIB, runs: { count: 3 } });
    expect(stats.manifests).toEqual([
      { name: 'alpha', entries: 2, bytes: 30 * KIB },
      { name: 'beta', entries: 1, bytes: 5 * KIB },
    ]);
    expect(stats.runs.hitRate).toBeCloseTo(2 / 5);
    expect(Date.parse(stats.oldest)).toBeLessThanOrEqual(Date.parse(stats.newest));
    const human = await cli('cache', 'stats');
    expect(human.stdout).toMatch(/3 entries, 35\.0 KiB/);
    expect(human.stdout).toMatch(/hit rate of the last 3 runs: 40\.0%/);
  });

  it('lists key, size, integrity and time, as text or JSON', async () => {
    const a = await served('alpha', [1000]);
    await cli('fetch', a.file);
    const text = await cli('cache', 'ls');
    const [key, size, integrity, time] = text.stdout.trim().split('\t');
    expect(key).toBe(cacheKey(a.manifest.fragments[0]!));
    expect(size).toBe('1000');
    expect(integrity).toMatch(/^sha256-/);
    expect(Number.isNaN(Date.parse(time!))).toBe(false);
    const json = JSON.parse((await cli('cache', 'ls', '--json')).stdout);
    expect(json).toEqual([
      expect.objectContaining({ key, size: 1000, integrity, manifest: 'alpha', id: 'alpha-0.bin' }),
    ]);
  });

  it('works on an empty or missing cache folder', async () => {
    expect(
      JSON.parse((await runCli(['cache', 'ls', '--json', '--cache', join(h.cacheDir, 'none')])).stdout),
    ).toEqual([]);
    expect((await runCli(['cache', 'stats', '--cache', join(h.cacheDir, 'none')])).stdout).toMatch(
      /0 entries/,
    );
  });

  it('takes the cache folder from $FRAGFETCH_CACHE', async () => {
    const a = await served('alpha', [100]);
    await cli('fetch', a.file);
    const result = await runCli(['cache', 'ls', '--json'], { env: { FRAGFETCH_CACHE: h.cacheDir } });
    expect(JSON.parse(result.stdout)).toHaveLength(1);
  });

  it('keeps a bounded run history', async () => {
    const record: RunRecord = {
      at: new Date().toISOString(),
      manifest: 'x',
      fragments: 1,
      hits: 1,
      misses: 0,
      revalidated: 0,
      bytesDownloaded: 0,
      ok: true,
    };
    for (let i = 0; i < HISTORY_LENGTH + 5; i++) await appendHistory(h.cacheDir, { ...record, fragments: i });
    const runs = await readHistory(h.cacheDir);
    expect(runs).toHaveLength(HISTORY_LENGTH);
    expect(runs.at(-1)!.fragments).toBe(HISTORY_LENGTH + 4);
  });
});

describe('fragfetch cache prune', () => {
  it('--max-size removes least-recently used content first and reports bytes freed', async () => {
    const a = await served('alpha', [10 * KIB, 10 * KIB, 10 * KIB]);
    await cli('fetch', a.file);
    await age(a.manifest, 0, 3000);
    await age(a.manifest, 1, 1000);
    await age(a.manifest, 2, 2000);
    const result = await cli('cache', 'prune', '--max-size', '15KiB', '--json');
    expect(JSON.parse(result.stdout)).toMatchObject({
      entriesRemoved: 2,
      bytesFreed: 20 * KIB,
      bytesLeft: 10 * KIB,
    });
    expect(await keys()).toEqual([cacheKey(a.manifest.fragments[0]!)]);
    const content = await readdir(join(h.cacheDir, 'content-v2', 'sha256'), { recursive: true });
    expect(content.filter((p) => p.length > 60)).toHaveLength(1);
  });

  it('--older-than removes entries unused for that long; --dry-run removes nothing', async () => {
    const a = await served('alpha', [1000, 2000]);
    await cli('fetch', a.file);
    await age(a.manifest, 0, Date.now() - 40 * 24 * 3600 * 1000);
    const dry = await cli('cache', 'prune', '--older-than', '30d', '--dry-run');
    expect(dry.stdout).toMatch(/would remove 1 entry, freeing 1000 B/);
    expect(await keys()).toHaveLength(2);
    const real = await cli('cache', 'prune', '--older-than', '30d');
    expect(real.stdout).toMatch(/removed 1 entry, freeing 1000 B/);
    expect(await keys()).toEqual([cacheKey(a.manifest.fragments[1]!)]);
  });

  it('--keep removes everything the given manifests do not need', async () => {
    const a = await served('alpha', [1000]);
    const b = await served('beta', [2000]);
    await cli('fetch', a.file);
    await cli('fetch', b.file);
    const result = await cli('cache', 'prune', '--keep', b.file, '--json');
    expect(JSON.parse(result.stdout)).toMatchObject({ entriesRemoved: 1, bytesFreed: 1000 });
    expect(await keys()).toEqual([cacheKey(b.manifest.fragments[0]!)]);
  });

  it('cleans partial downloads and temporary files older than a week, and keeps recent ones', async () => {
    const old = join(h.cacheDir, 'partial', 'old');
    const fresh = join(h.cacheDir, 'partial', 'fresh');
    for (const dir of [old, fresh]) {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'data'), 'x');
    }
    // Content a killed run was writing when it died.
    await mkdir(join(h.cacheDir, 'tmp'));
    await writeFile(join(h.cacheDir, 'tmp', 'old'), 'x');
    await writeFile(join(h.cacheDir, 'tmp', 'fresh'), 'x');
    const past = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    await utimes(join(old, 'data'), past, past);
    await utimes(old, past, past);
    await utimes(join(h.cacheDir, 'tmp', 'old'), past, past);
    const result = await cli('cache', 'prune', '--json');
    expect(JSON.parse(result.stdout)).toMatchObject({ partialsRemoved: 2, entriesRemoved: 0 });
    expect(await readdir(join(h.cacheDir, 'partial'))).toEqual(['fresh']);
    expect(await readdir(join(h.cacheDir, 'tmp'))).toEqual(['fresh']);
  });

  it('a hit refreshes the last-use time, so it is not the first to go', async () => {
    const a = await served('alpha', [1000, 1000]);
    await cli('fetch', a.file);
    await age(a.manifest, 0, 1000);
    await age(a.manifest, 1, 2000);
    const only0 = h.manifest(
      [a.manifest.fragments[0]!].map((f) => ({ path: f.path, size: f.size, integrity: f.integrity!.sri })),
    );
    // Refreshed by this run: a time taken during it, not one within a minute of now.
    const before = Date.now();
    await fetchManifest(only0, { cacheDir: h.cacheDir });
    const info = await cacache.get.info(h.cacheDir, cacheKey(a.manifest.fragments[0]!));
    expect(info!.time).toBeGreaterThanOrEqual(before);
    expect(info!.time).toBeLessThanOrEqual(Date.now());
    await cli('cache', 'prune', '--max-size', '1000');
    expect(await keys()).toEqual([cacheKey(a.manifest.fragments[0]!)]);
  });
});

describe('fragfetch fetch --max-cache-size', () => {
  it('prunes least-recently used content after the run, never what the manifest needs', async () => {
    const a = await served('alpha', [10 * KIB, 10 * KIB]);
    const b = await served('beta', [10 * KIB]);
    await cli('fetch', a.file);
    await age(a.manifest, 0, 1000);
    await age(a.manifest, 1, 2000);
    expect((await cli('fetch', b.file, '--max-cache-size', '25KiB')).code).toBe(0);
    expect(await keys()).toEqual(
      [cacheKey(a.manifest.fragments[1]!), cacheKey(b.manifest.fragments[0]!)].sort(),
    );
    // Below the manifest's own size: everything else goes, the manifest stays whole.
    expect(
      (await runCli(['fetch', b.file, '--cache', h.cacheDir], { env: { FRAGFETCH_MAX_CACHE_SIZE: '1KiB' } }))
        .code,
    ).toBe(0);
    expect(await keys()).toEqual([cacheKey(b.manifest.fragments[0]!)]);
  });

  it('rejects a bad FRAGFETCH_MAX_CACHE_SIZE as a usage error', async () => {
    const a = await served('alpha', [100]);
    const result = await runCli(['fetch', a.file, '--cache', h.cacheDir], {
      env: { FRAGFETCH_MAX_CACHE_SIZE: 'lots' },
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/FRAGFETCH_MAX_CACHE_SIZE/);
  });
});

describe('fragfetch cache clear', () => {
  it('refuses without a terminal unless --yes, with exit 2 and a hint', async () => {
    const a = await served('alpha', [100]);
    await cli('fetch', a.file);
    const refused = await cli('cache', 'clear');
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')[0]).toMatch(/refusing to clear .* add --yes/);
    expect(await keys()).toHaveLength(1);
    await mkdir(join(h.cacheDir, 'tmp'), { recursive: true });
    await writeFile(join(h.cacheDir, 'tmp', 'left-by-a-kill'), 'x');
    const cleared = await cli('cache', 'clear', '--yes');
    expect(cleared.code).toBe(0);
    expect(await keys()).toEqual([]);
    expect(await readdir(h.cacheDir)).toEqual([]);
    expect(JSON.parse((await cli('cache', 'stats', '--json')).stdout)).toMatchObject({
      entries: 0,
      runs: { count: 0 },
    });
  });
});
