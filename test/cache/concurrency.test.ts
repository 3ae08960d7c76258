import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tryLock, waitForLock } from '../../src/cache/lock.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { pollUntil } from '../support/poll.js';

let h: Harness;
const MIB = 1024 * 1024;

beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

describe('two processes warming one cache', () => {
  it('both succeed, each fragment crosses the network once, and the cache verifies clean', async () => {
    const bodies = [
      randomBytesSeeded(2 * MIB, 'p0'),
      randomBytesSeeded(2 * MIB, 'p1'),
      randomBytesSeeded(MIB, 'p2'),
    ];
    // Slow enough that the two runs overlap: each object takes about half a second.
    bodies.forEach((body, i) => h.cdn.set(`/m/p${i}.bin`, body, { limitRate: 4 * MIB }));
    const file = await h.manifestFile(
      bodies.map((body, i) => ({
        path: `p${i}.bin`,
        size: body.length,
        integrity: sriOf(body),
      })),
      { name: 'shared' },
    );
    const argv = ['fetch', file, '--cache', h.cacheDir, '--json', '--split-threshold', '64MiB'];
    const [first, second] = await Promise.all([spawnCli(argv).done, spawnCli(argv).done]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    const reports = [JSON.parse(first.stdout), JSON.parse(second.stdout)];
    for (const report of reports) expect(report.fragments.failed).toBe(0);
    // Every fragment was downloaded by exactly one of them; the other found it cached.
    expect(reports[0].fragments.downloaded + reports[1].fragments.downloaded).toBe(3);
    await h.cdn.idle();
    const sent = h.cdn.requests.reduce((sum, r) => sum + r.bytesSent, 0);
    expect(sent).toBe(5 * MIB);

    const verify = await cacache.verify(h.cacheDir);
    expect(verify).toMatchObject({ badContentCount: 0, verifiedContent: 3 });
    expect(Object.keys(await cacache.ls(h.cacheDir))).toHaveLength(3);
    // No partial download or lock is left behind.
    expect(await readdir(join(h.cacheDir, 'partial')).catch(() => [])).toEqual([]);
  }, 30_000);
});

describe('a process killed while it holds a lock', () => {
  it('does not block the next run, which takes the lock over and resumes the partial file', async () => {
    const body = randomBytesSeeded(4 * MIB, 'k');
    h.cdn.set('/m/k.bin', body, { limitRate: MIB });
    const manifest = h.manifest([{ path: 'k.bin', size: body.length, integrity: sriOf(body) }]);
    const file = await h.manifestFile([{ path: 'k.bin', size: body.length, integrity: sriOf(body) }]);
    const child = spawnCli(['fetch', file, '--cache', h.cacheDir, '--no-progress']);
    const partial = join(h.cacheDir, 'partial');
    // Killed once a partial state with bytes in it (saved about once a second) is on disk; the
    // first, saved on the first answer, holds none.
    const saved = async () => {
      const names = await readdir(partial).catch(() => [] as string[]);
      const dirs = names.filter((name) => !name.endsWith('.lock'));
      if (dirs.length === 0) return false;
      const state = await readFile(join(partial, dirs[0]!, 'state.json'), 'utf8').catch(() => '{}');
      return ((JSON.parse(state) as { spans?: unknown[] }).spans?.length ?? 0) > 0;
    };
    await pollUntil(saved, { or: once(child, 'exit') });
    expect(child.exitCode).toBeNull();
    child.kill('SIGKILL');
    await child.done;
    expect((await readdir(partial)).some((name) => name.endsWith('.lock'))).toBe(true);
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir });
    expect(report.ok).toBe(true);
    expect(report.fragments.downloaded).toBe(1);
    expect(report.bytes.resumed).toBeGreaterThan(0);
  }, 30_000);
});

describe('two runs at once in one process (a deterministic overlap)', () => {
  it('the second waits on the lock of the first and finds the content cached', async () => {
    const body = randomBytesSeeded(MIB, 'q');
    h.cdn.set('/m/q.bin', body, { limitRate: 4 * MIB });
    const manifest = h.manifest([{ path: 'q.bin', size: MIB, integrity: sriOf(body) }]);
    const [a, b] = await Promise.all([
      fetchManifest(manifest, { cacheDir: h.cacheDir }),
      fetchManifest(manifest, { cacheDir: h.cacheDir }),
    ]);
    expect(a.ok && b.ok).toBe(true);
    expect(a.fragments.downloaded + b.fragments.downloaded).toBe(1);
    expect(a.fragments.cached + b.fragments.cached).toBe(1);
    await h.cdn.idle();
    expect(h.cdn.requestsFor('/m/q.bin')).toHaveLength(1);
  });
});

describe('partial-download locks', () => {
  it('are exclusive, and a lock whose holder died is taken over', async () => {
    const path = join(h.cacheDir, 'x.lock');
    const held = await tryLock(path);
    expect(held).toBeDefined();
    expect(await tryLock(path)).toBeUndefined();
    await held!.release();
    // A pid that cannot exist on this host.
    await writeFile(
      path,
      JSON.stringify({ pid: 2 ** 30, host: (await import('node:os')).hostname(), time: Date.now() }),
    );
    const taken = await tryLock(path);
    expect(taken).toBeDefined();
    await taken!.release();
  });

  it('a waiter stops waiting once the holder has produced the content', async () => {
    const path = join(h.cacheDir, 'y.lock');
    const held = await tryLock(path);
    // The content is there from the third look on: the waiter keeps looking until then, and no longer.
    let looks = 0;
    const got = await waitForLock(path, async () => ++looks >= 3, new AbortController().signal);
    expect(got).toBeUndefined();
    expect(looks).toBe(3);
    await held!.release();
  });
});
