import { execFileSync } from 'node:child_process';
import type { Socket } from 'node:net';
import { mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PartialFiles } from '../../src/cache/partial.js';
import { cacheKey } from '../../src/cache/store.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import type { Manifest } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { randomBytesSeeded } from '../support/fixtures.js';
import { partial, type RawRequest, whole } from './raw-server.js';
import { failure, type Hostile, hostile } from './support.js';

/** A full disk is ENOSPC: not retried, named with the cache folder, partial data kept if resumable. */
let h: Hostile;
beforeEach(async () => {
  h = await hostile();
});
afterEach(async () => {
  await h.close();
});

const body = randomBytesSeeded(600_000, 'disk');
const ranged = (socket: Socket, request: RawRequest) => {
  socket.write(request.range ? partial(body, request) : whole(body, [['ETag', '"d"']]));
};

describe('a full disk', () => {
  it('writing the partial file: ENOSPC at once, named with the cache folder, the state kept to resume', async () => {
    h.server.on('/big.bin', ranged);
    const manifest = h.manifest([{ path: 'big.bin', size: body.length }]);
    // The partial data file is /dev/full: every write fails with ENOSPC.
    const files = new PartialFiles(h.cacheDir, cacheKey(manifest.fragments[0]!));
    await mkdir(files.dir, { recursive: true });
    await symlink('/dev/full', files.dataPath);
    const report = await h.fetch(manifest, { retries: 5 });
    const { code, message } = failure(report);
    expect(code).toBe('ENOSPC');
    expect(message).toBe(
      `no space left on the disk of the cache ${h.cacheDir} (downloading big.bin): free some space or choose another --cache`,
    );
    expect(report.retries).toBe(0);
    expect(h.server.requests).toHaveLength(1);
    expect((await stat(files.statePath)).isFile()).toBe(true);
    await h.expectSound(0);
  });

  // A real full file system: a 1 MiB tmpfs, where the system lets us mount one (root, Linux).
  it('on a 1 MiB file system: ENOSPC for a large object and for small ones', async (context) => {
    const mount = await mkdtemp(join(tmpdir(), 'fragfetch-full-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount], { stdio: 'ignore' });
    } catch {
      await rm(mount, { recursive: true, force: true });
      context.skip();
    }
    try {
      const large = randomBytesSeeded(2 * 1024 * 1024, 'large');
      h.server.on('/large.bin', (socket, request) => {
        socket.write(request.range ? partial(large, request) : whole(large, [['ETag', '"l"']]));
      });
      const smalls = Array.from({ length: 8 }, (_, i) => randomBytesSeeded(200 * 1024, `small${i}`));
      smalls.forEach((small, i) =>
        h.server.on(`/small${i}.bin`, (socket) => {
          socket.write(whole(small));
        }),
      );
      const cacheDir = join(mount, 'cache');
      const manifest: Manifest = parseManifest(
        {
          version: 1,
          baseUrls: [h.server.url('/')],
          fragments: [
            { path: 'large.bin', size: large.length, priority: 'critical' },
            ...smalls.map((small, i) => ({ path: `small${i}.bin`, size: small.length })),
          ],
        },
        'full.json',
      );
      const report = await fetchManifest(manifest, { cacheDir, retries: 3, baseDelayMs: 1, history: false });
      expect(report.ok).toBe(false);
      expect(report.failures.length).toBeGreaterThanOrEqual(2);
      expect(report.failures.map((f) => f.error.code).every((code) => code === 'ENOSPC')).toBe(true);
      for (const f of report.failures) expect(f.error.message).toContain(`the cache ${cacheDir}`);
      expect(report.failures.map((f) => f.id)).toContain('large.bin');
      expect(report.retries).toBe(0);
    } finally {
      execFileSync('umount', [mount]);
      await rm(mount, { recursive: true, force: true });
    }
  });
});
