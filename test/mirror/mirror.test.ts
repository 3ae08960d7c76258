import { link, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { mirror, read, writeManifest } from './helpers.js';

let h: Harness;
let dir: string;
const cleanup: string[] = [];

beforeEach(async () => {
  h = await harness();
  dir = await tempDir('fragfetch-mirror-');
  cleanup.push(dir);
});
afterEach(async () => {
  await h.close();
  for (const path of cleanup.splice(0)) await rm(path, { recursive: true, force: true });
});

async function emptyCache(): Promise<string> {
  const cache = await tempDir('fragfetch-empty-cache-');
  cleanup.push(cache);
  return cache;
}

const MiB = 1024 * 1024;
const model = randomBytesSeeded(3 * MiB + 123, 'model');
const tokenizer = Buffer.from('{"vocab": ["a", "b"]}');
const readme = Buffer.from('no integrity here\n');

/** A 3 MiB file given as four ranges (one without integrity), a nested whole file, and one without integrity. */
function fragments(): Record<string, unknown>[] {
  const cuts = [0, MiB + 7, 2 * MiB, 2 * MiB + 4096, model.length];
  const ranges = cuts.slice(0, -1).map((offset, i) => {
    const size = cuts[i + 1]! - offset;
    const bytes = model.subarray(offset, offset + size);
    return { path: 'model.bin', offset, size, ...(i === 2 ? {} : { integrity: sriOf(bytes) }) };
  });
  return [
    ranges[2]!,
    {
      path: 'tok/en/tokenizer.json',
      size: tokenizer.length,
      integrity: sriOf(tokenizer),
      priority: 'critical',
    },
    ranges[0]!,
    ranges[3]!,
    { path: 'README', url: h.cdn.url('/other/README') },
    ranges[1]!,
  ];
}

function serve(): void {
  h.cdn.set('/m/model.bin', model);
  h.cdn.set('/m/tok/en/tokenizer.json', tokenizer);
  h.cdn.set('/other/README', readme);
}

async function expectMirrored(root = dir): Promise<void> {
  expect((await read(root, 'model.bin')).equals(model)).toBe(true);
  expect((await read(root, 'tok/en/tokenizer.json')).equals(tokenizer)).toBe(true);
  expect((await read(root, 'README')).equals(readme)).toBe(true);
}

describe('fragfetch mirror', () => {
  it('assembles a file from byte ranges byte-exact and writes whole files in nested directories', async () => {
    serve();
    const manifest = await writeManifest(h, fragments());
    const result = await mirror(manifest, dir, h.cacheDir);
    expect(result.code, result.stderr).toBe(0);
    await expectMirrored();
    expect(result.report).toMatchObject({
      ok: true,
      fragments: { total: 6, downloaded: 6, failed: 0 },
      mirror: {
        files: { total: 3, written: 3, repaired: 0, upToDate: 0, failed: 0, deleted: 0 },
        bytes: { written: model.length + tokenizer.length + readme.length, repaired: 0, upToDate: 0 },
      },
    });
    expect(result.report.mirror.written.sort()).toEqual(['README', 'model.bin', 'tok/en/tokenizer.json']);
    // No temporary name is left behind.
    expect((await readdir(dir)).sort()).toEqual(['.fragfetch', 'README', 'model.bin', 'tok']);
  });

  it('writes a lone range at its offset, and holes between ranges as zeros', async () => {
    const body = randomBytesSeeded(10_000, 'holes');
    h.cdn.set('/m/sparse.bin', body);
    const manifest = await writeManifest(h, [
      { path: 'sparse.bin', offset: 1000, size: 1000, integrity: sriOf(body.subarray(1000, 2000)) },
      { path: 'sparse.bin', offset: 5000, size: 500 },
    ]);
    const result = await mirror(manifest, dir, h.cacheDir);
    expect(result.code, result.stderr).toBe(0);
    const expected = Buffer.alloc(5500);
    body.copy(expected, 1000, 1000, 2000);
    body.copy(expected, 5000, 5000, 5500);
    expect((await read(dir, 'sparse.bin')).equals(expected)).toBe(true);
  });

  it('a re-run with an empty cache sends no request and writes nothing', async () => {
    serve();
    const manifest = await writeManifest(h, fragments());
    expect((await mirror(manifest, dir, h.cacheDir)).code).toBe(0);
    h.cdn.reset();
    const again = await mirror(manifest, dir, await emptyCache());
    expect(again.code, again.stderr).toBe(0);
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);
    expect(again.report).toMatchObject({
      ok: true,
      fragments: { total: 0, downloaded: 0 },
      mirror: { files: { total: 3, written: 0, upToDate: 3 }, bytes: { written: 0 } },
    });
    await expectMirrored();
  });

  it('--offline mirrors from a warm cache with no request, and fails EOFFLINE on what is missing', async () => {
    serve();
    const manifest = await writeManifest(h, fragments());
    const warm = await runCli(['fetch', manifest, '--cache', h.cacheDir, '--no-progress', '--quiet']);
    expect(warm.code, warm.stderr).toBe(0);
    h.cdn.reset();
    const offline = await mirror(manifest, dir, h.cacheDir, ['--offline']);
    expect(offline.code, offline.stderr).toBe(0);
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);
    await expectMirrored();

    const other = await tempDir('fragfetch-mirror-');
    cleanup.push(other);
    const cold = await mirror(manifest, other, await emptyCache(), ['--offline']);
    expect(cold.code).toBe(1);
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);
    expect(cold.report.failures.map((f: { error: { code: string } }) => f.error.code)).toContain('EOFFLINE');
  });

  it('--max-cache-size prunes other content after the mirror but keeps the whole manifest', async () => {
    serve();
    const stranger = randomBytesSeeded(2 * MiB, 'stranger');
    h.cdn.set('/m/stranger.bin', stranger);
    const strangerManifest = await writeManifest(h, [{ path: 'stranger.bin', integrity: sriOf(stranger) }]);
    expect((await runCli(['fetch', strangerManifest, '--cache', h.cacheDir, '--quiet'])).code).toBe(0);
    const manifest = await writeManifest(h, fragments());
    const result = await mirror(manifest, dir, h.cacheDir, ['--max-cache-size', '1MiB']);
    expect(result.code, result.stderr).toBe(0);
    await expectMirrored();
    h.cdn.reset();
    // The manifest's own fragments stayed (no request to mirror them again); the stranger was pruned.
    const elsewhere = await tempDir('fragfetch-mirror-');
    cleanup.push(elsewhere);
    const again = await mirror(manifest, elsewhere, h.cacheDir, ['--offline']);
    expect(again.code, again.stderr).toBe(0);
    const gone = await runCli(['fetch', strangerManifest, '--cache', h.cacheDir, '--offline', '--quiet']);
    expect(gone.code).toBe(1);
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);
  });

  it('without its state file, recognises files with integrity by hashing them, still with no request', async () => {
    const withIntegrity = fragments().filter((f) => f.path !== 'README');
    serve();
    const manifest = await writeManifest(h, withIntegrity);
    expect((await mirror(manifest, dir, h.cacheDir)).code).toBe(0);
    await rm(join(dir, '.fragfetch'), { recursive: true });
    h.cdn.reset();
    const again = await mirror(manifest, dir, await emptyCache());
    expect(again.code, again.stderr).toBe(0);
    // model.bin has a range without integrity: its bytes are known only from the state or the cache.
    await h.cdn.idle();
    expect(h.cdn.requests.map((r) => [r.path, r.range])).toEqual([['/m/model.bin', 'bytes=2097152-2101247']]);
    // The range was rewritten on top of the old file: a repair, not a file written whole.
    expect(again.report.mirror.files).toMatchObject({ written: 0, repaired: 1, upToDate: 1 });
    expect(again.report.mirror.repaired).toEqual([
      { path: 'model.bin', rewritten: 4096, size: model.length },
    ]);
    expect((await read(dir, 'model.bin')).equals(model)).toBe(true);
  });

  it('replaces a mismatching file, fetching only what differs', async () => {
    serve();
    const manifest = await writeManifest(h, fragments());
    expect((await mirror(manifest, dir, h.cacheDir)).code).toBe(0);
    // Corrupt one byte inside the second range of model.bin, truncate the tokenizer, rewrite README.
    const damaged = Buffer.from(model);
    damaged[MiB + 100] = damaged[MiB + 100]! ^ 0xff;
    await writeFile(join(dir, 'model.bin'), damaged);
    await truncate(join(dir, 'tok/en/tokenizer.json'), 3);
    await writeFile(join(dir, 'README'), 'edited locally\n');
    h.cdn.reset();
    const again = await mirror(manifest, dir, await emptyCache());
    expect(again.code, again.stderr).toBe(0);
    await expectMirrored();
    const asked = h.cdn.requests.map((r) => `${r.path} ${r.range ?? ''}`.trim()).sort();
    expect(asked).toEqual([
      '/m/model.bin bytes=1048583-2097151',
      '/m/tok/en/tokenizer.json',
      '/other/README',
    ]);
    // model.bin kept three of its four ranges: repaired, with the bytes rewritten and its size.
    expect(again.report.mirror.files).toMatchObject({ written: 2, repaired: 1, upToDate: 0 });
    expect(again.report.mirror.written.sort()).toEqual(['README', 'tok/en/tokenizer.json']);
    expect(again.report.mirror.repaired).toEqual([
      { path: 'model.bin', rewritten: MiB - 7, size: model.length },
    ]);
    expect(again.report.mirror.bytes).toMatchObject({
      written: readme.length + tokenizer.length,
      repaired: MiB - 7,
    });
  });

  it('says how much of a repaired file was rewritten, and of what size', async () => {
    serve();
    const manifest = await writeManifest(h, fragments());
    expect((await mirror(manifest, dir, h.cacheDir)).code).toBe(0);
    const damaged = Buffer.from(model);
    damaged[MiB + 100] = damaged[MiB + 100]! ^ 0xff;
    await writeFile(join(dir, 'model.bin'), damaged);
    const human = await runCli(['mirror', manifest, dir, '--cache', h.cacheDir, '--no-progress']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(
      /^mirror: 0 files written \(0 B\), 1 file repaired: 1\.0 MiB of 3\.0 MiB rewritten, 2 up to date /m,
    );
    await expectMirrored();
  });

  it('trusts a file that kept its size and mtime unless --checksum', async () => {
    serve();
    const manifest = await writeManifest(h, fragments());
    expect((await mirror(manifest, dir, h.cacheDir)).code).toBe(0);
    const file = join(dir, 'tok/en/tokenizer.json');
    await writeFile(file, Buffer.from(tokenizer).fill(0x20, 0, 5), { flag: 'r+' });
    // An edit that keeps size and mtime to the nanosecond (utimes cannot): patch the record instead.
    const stateFile = join(dir, '.fragfetch', 'state.json');
    const state = JSON.parse(await readFile(stateFile, 'utf8'));
    state.files['tok/en/tokenizer.json'].mtimeNs = String((await stat(file, { bigint: true })).mtimeNs);
    await writeFile(stateFile, JSON.stringify(state));
    const fast = await mirror(manifest, dir, h.cacheDir);
    expect(fast.report.mirror.files.upToDate).toBe(3);
    const checked = await mirror(manifest, dir, h.cacheDir, ['--checksum']);
    expect(checked.report.mirror.files).toMatchObject({ written: 1, upToDate: 2 });
    await expectMirrored();
  });

  it('--hardlink links whole files to the cache content and copies ranges', async () => {
    serve();
    const manifest = await writeManifest(h, fragments());
    const result = await mirror(manifest, dir, h.cacheDir, ['--hardlink']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.report.mirror.hardlinked).toBe(2);
    await expectMirrored();
    expect((await stat(join(dir, 'README'))).nlink).toBe(2);
    expect((await stat(join(dir, 'model.bin'))).nlink).toBe(1);
    // Read-only: writing in place would change the cache's bytes.
    expect((await stat(join(dir, 'README'))).mode & 0o222).toBe(0);
    // The linked file is the cache's: a re-run recognises it and changes nothing.
    h.cdn.reset();
    const again = await mirror(manifest, dir, h.cacheDir, ['--hardlink']);
    expect(again.report.mirror.files.upToDate).toBe(3);
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);
  });

  it('--delete lists then removes files the manifest does not name, keeping links to named paths', async () => {
    serve();
    const manifest = await writeManifest(h, fragments());
    await writeFile(join(dir, 'stale.bin'), 'old');
    expect((await mirror(manifest, dir, h.cacheDir)).code).toBe(0);
    await writeFile(join(dir, 'tok', 'old-vocab.txt'), 'old');
    await link(join(dir, 'README'), join(dir, 'README.bak'));
    const human = await runCli(['mirror', manifest, dir, '--cache', h.cacheDir, '--delete', '--no-progress']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stderr).toContain(
      'will delete 3 files not in the manifest:\n  README.bak\n  stale.bin\n  tok/old-vocab.txt\n',
    );
    expect(human.stdout).toMatch(/mirror: 0 files written .*3 up to date .*3 deleted/);
    expect((await readdir(dir)).sort()).toEqual(['.fragfetch', 'README', 'model.bin', 'tok']);
    expect(await readdir(join(dir, 'tok'))).toEqual(['en']);
    await expectMirrored();
  });

  it('--delete deletes nothing when a fragment failed', async () => {
    serve();
    const manifest = await writeManifest(h, [...fragments(), { path: 'missing.bin' }]);
    await writeFile(join(dir, 'stale.bin'), 'old');
    const result = await mirror(manifest, dir, h.cacheDir, ['--delete']);
    expect(result.code).toBe(1);
    expect(result.report.ok).toBe(false);
    expect(result.report.failures).toEqual([expect.objectContaining({ id: 'missing.bin' })]);
    expect(result.report.mirror).toMatchObject({
      files: { written: 3, failed: 1, deleted: 0 },
      deleteSkipped: 'some files failed',
    });
    expect(await read(dir, 'stale.bin')).toEqual(Buffer.from('old'));
    await expect(stat(join(dir, 'missing.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expectMirrored();
  });

  it('does not write a file assembled from ranges when one of its ranges failed', async () => {
    serve();
    const list = fragments();
    h.cdn.fault('/m/model.bin', { kind: 'status', status: 404 }, { times: Infinity });
    const manifest = await writeManifest(h, list);
    const result = await mirror(manifest, dir, h.cacheDir, ['--retries', '0']);
    expect(result.code).toBe(1);
    await expect(stat(join(dir, 'model.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await read(dir, 'README')).equals(readme)).toBe(true);
  });

  it('--dry-run lists what would be written and deleted, sends no request and changes nothing', async () => {
    serve();
    const manifest = await writeManifest(h, fragments());
    const missingDir = join(dir, 'not-yet');
    const first = await mirror(manifest, missingDir, h.cacheDir, ['--dry-run']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.report).toMatchObject({
      dryRun: true,
      fragments: { total: 6, toDownload: 6 },
      mirror: { exists: false, upToDate: [], delete: [] },
    });
    expect(first.report.mirror.write.map((w: { path: string }) => w.path).sort()).toEqual([
      'README',
      'model.bin',
      'tok/en/tokenizer.json',
    ]);
    await expect(stat(missingDir)).rejects.toMatchObject({ code: 'ENOENT' });
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);

    expect((await mirror(manifest, dir, h.cacheDir)).code).toBe(0);
    await writeFile(join(dir, 'stale.bin'), 'old');
    await writeFile(join(dir, 'README'), 'edited');
    h.cdn.reset();
    const snapshot = await listing(dir);
    const cacheSnapshot = await listing(h.cacheDir);
    const human = await runCli(['mirror', manifest, dir, '--cache', h.cacheDir, '--dry-run', '--delete']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/dry run, nothing downloaded, nothing changed/);
    expect(human.stdout).toMatch(/1 to write, 2 up to date, 1 to delete/);
    expect(human.stdout).toMatch(/replace +README .*\(differs\)/);
    expect(human.stdout).toMatch(/delete +stale\.bin/);
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);
    expect(await listing(dir)).toEqual(snapshot);
    expect(await listing(h.cacheDir)).toEqual(cacheSnapshot);
  });

  it('prints the fetch summary and a mirror line without --json', async () => {
    serve();
    const manifest = await writeManifest(h, fragments());
    const human = await runCli(['mirror', manifest, dir, '--cache', h.cacheDir, '--no-progress']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/mirror: 3 files written \(3\.0 MiB\), 0 up to date/);
  });
});

/** Every entry under `root` with its size and mtime: what "changes nothing" compares. */
async function listing(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    out.push(`${path} ${info.size} ${info.mtimeMs}`);
  }
  return out.sort();
}
