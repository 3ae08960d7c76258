import { symlinkSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { mirror, read, writeManifest } from './helpers.js';

let h: Harness;
let dir: string;
let outside: string;

beforeEach(async () => {
  h = await harness();
  dir = await realpath(await tempDir('fragfetch-mirror-'));
  outside = await realpath(await tempDir('fragfetch-outside-'));
  await writeFile(join(outside, 'victim'), 'untouched');
  h.cdn.set('/m/a.bin', body);
  h.cdn.set('/m/sub/b.bin', body);
});
afterEach(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const body = randomBytesSeeded(8192, 'safety');

async function expectOutsideUntouched(): Promise<void> {
  expect(await readdir(outside)).toEqual(['victim']);
  expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('untouched');
}

describe('fragfetch mirror never writes outside <dir>', () => {
  it.each([
    ['a ".." segment', { path: '../victim' }],
    ['a nested ".." segment', { path: 'sub/../../victim' }],
    ['an absolute path', { path: '/tmp/victim' }],
    ['a backslash path', { path: '..\\victim' }],
    ['a Windows drive path', { path: 'C:/victim' }],
  ])('refuses %s: exit 2, no request, nothing created', async (_, fragment) => {
    const manifest = await writeManifest(h, [{ path: 'a.bin' }, fragment]);
    const target = join(dir, 'new');
    const result = await mirror(manifest, target, h.cacheDir);
    expect(result.code).toBe(2);
    expect(result.report).toMatchObject({ ok: false, error: { code: 'EMANIFEST' } });
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);
    await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
    await expectOutsideUntouched();
  });

  it('refuses overlapping ranges: exit 2 before any request', async () => {
    const manifest = await writeManifest(h, [
      { path: 'a.bin', offset: 0, size: 4096 },
      { path: 'a.bin', offset: 4000, size: 4192 },
    ]);
    const result = await mirror(manifest, dir, h.cacheDir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/overlap in a\.bin/);
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses a directory link inside <dir> that leads out: exit 1, EPATH, no request for it', async () => {
    await symlink(outside, join(dir, 'sub'));
    const manifest = await writeManifest(h, [
      { path: 'a.bin', integrity: sriOf(body) },
      { path: 'sub/b.bin' },
    ]);
    const result = await mirror(manifest, dir, h.cacheDir);
    expect(result.code).toBe(1);
    expect(result.report.failures).toEqual([
      expect.objectContaining({ path: 'sub/b.bin', error: expect.objectContaining({ code: 'EPATH' }) }),
    ]);
    expect(result.report.failures[0].error.message).toMatch(/symbolic link to .*outside/);
    await h.cdn.idle();
    expect(h.cdn.requests.map((r) => r.path)).toEqual(['/m/a.bin']);
    expect((await read(dir, 'a.bin')).equals(body)).toBe(true);
    await expectOutsideUntouched();
  });

  it('--dry-run reports a file it would refuse, exits 1, and sends no request', async () => {
    await symlink(outside, join(dir, 'sub'));
    const manifest = await writeManifest(h, [{ path: 'a.bin' }, { path: 'sub/b.bin' }]);
    const result = await mirror(manifest, dir, h.cacheDir, ['--dry-run']);
    expect(result.code).toBe(1);
    expect(result.report.mirror.refused).toEqual([
      { path: 'sub/b.bin', error: expect.objectContaining({ code: 'EPATH' }) },
    ]);
    expect(result.report.mirror.write).toEqual([
      expect.objectContaining({ path: 'a.bin', reason: 'missing' }),
    ]);
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);
    expect(await readdir(dir)).toEqual(['sub']);
  });

  it('refuses a file link inside <dir> that leads out, even when that file exists and matches', async () => {
    await writeFile(join(outside, 'victim'), 'untouched');
    await symlink(join(outside, 'victim'), join(dir, 'a.bin'));
    const manifest = await writeManifest(h, [{ path: 'a.bin' }]);
    const result = await mirror(manifest, dir, h.cacheDir);
    expect(result.code).toBe(1);
    expect(result.report.failures[0]).toMatchObject({ path: 'a.bin', error: { code: 'EPATH' } });
    expect((await lstat(join(dir, 'a.bin'))).isSymbolicLink()).toBe(true);
    await expectOutsideUntouched();
  });

  it('refuses a link planted at write time, after the scan (the pre-fetch check passed)', async () => {
    const manifest = await writeManifest(h, [{ path: 'sub/b.bin' }]);
    // The link appears after the scan found no `sub`, before the file is written.
    const { mirrorManifest } = await import('../../src/mirror/run.js');
    const { parseManifest } = await import('../../src/manifest/parse.js');
    const parsed = parseManifest(JSON.parse(await readFile(manifest, 'utf8')), manifest);
    const report = await mirrorManifest(parsed, dir, {
      cacheDir: h.cacheDir,
      observer: {
        planned: () => symlinkSync(outside, join(dir, 'sub')),
      },
    });
    expect(report.ok).toBe(false);
    expect(report.mirror.files.failed).toBe(1);
    expect(report.failures[0]).toMatchObject({ path: 'sub/b.bin', error: { code: 'EPATH' } });
    await expectOutsideUntouched();
  });

  it('replaces a file link that stays inside <dir> with a file, leaving its target alone', async () => {
    await writeFile(join(dir, 'other'), 'keep me');
    await symlink(join(dir, 'other'), join(dir, 'a.bin'));
    const manifest = await writeManifest(h, [{ path: 'a.bin', integrity: sriOf(body) }]);
    const result = await mirror(manifest, dir, h.cacheDir);
    expect(result.code, result.stderr).toBe(0);
    expect((await lstat(join(dir, 'a.bin'))).isFile()).toBe(true);
    expect((await read(dir, 'a.bin')).equals(body)).toBe(true);
    expect(await readFile(join(dir, 'other'), 'utf8')).toBe('keep me');
  });

  it('follows a directory link that stays inside <dir>', async () => {
    await mkdir(join(dir, 'real'));
    await symlink(join(dir, 'real'), join(dir, 'sub'));
    const manifest = await writeManifest(h, [{ path: 'sub/b.bin' }]);
    const result = await mirror(manifest, dir, h.cacheDir, ['--delete']);
    expect(result.code, result.stderr).toBe(0);
    expect((await read(dir, 'real/b.bin')).equals(body)).toBe(true);
    // The link leads to a named path: --delete keeps it, and real/b.bin, which is sub/b.bin.
    const again = await mirror(manifest, dir, h.cacheDir, ['--delete']);
    expect(again.report.mirror).toMatchObject({ deleted: [], files: { upToDate: 1 } });
    expect((await lstat(join(dir, 'sub'))).isSymbolicLink()).toBe(true);
    expect((await read(dir, 'real/b.bin')).equals(body)).toBe(true);
  });

  it('refuses a state folder that is a link out of <dir>', async () => {
    await symlink(outside, join(dir, '.fragfetch'));
    const manifest = await writeManifest(h, [{ path: 'a.bin' }]);
    const result = await mirror(manifest, dir, h.cacheDir);
    expect(result.code).toBe(1);
    expect(result.report.error).toMatchObject({ code: 'EPATH' });
    await h.cdn.idle();
    expect(h.cdn.requests).toEqual([]);
    await expectOutsideUntouched();
  });
});
