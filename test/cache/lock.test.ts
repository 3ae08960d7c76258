import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseToken, tokenName, tryLock } from '../../src/cache/lock.js';
import { PartialFiles } from '../../src/cache/partial.js';
import { LOCK_STALE_MS } from '../../src/cache/policy.js';
import { CacheStore, cacheKey } from '../../src/cache/store.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import type { Fragment } from '../../src/manifest/fragment.js';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;
const MIB = 1024 * 1024;
const LOCK_MODULE = new URL('../../dist/src/cache/lock.js', import.meta.url).href;
/** A clock on which every lock taken on the real one has gone silent. */
const later = () => Date.now() + LOCK_STALE_MS + 1_000;

beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/**
 * Leaves a stale lock at each path the way a crash does: a real process takes them (with the built
 * lock module) and is killed with SIGKILL, so its pid is gone and nothing was released.
 */
async function locksOfKilledHolder(paths: string[]): Promise<void> {
  for (const path of paths) await mkdir(dirname(path), { recursive: true });
  const script = `const { tryLock } = await import(process.argv[1]);
    for (const path of process.argv.slice(2)) if (!(await tryLock(path))) process.exit(3);
    process.stdout.write('held');
    setInterval(() => {}, 1e9);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, LOCK_MODULE, ...paths], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const closed = once(child, 'close');
  const [chunk] = (await Promise.race([once(child.stdout!, 'data'), closed])) as [Buffer | number];
  expect(String(chunk)).toBe('held');
  child.kill('SIGKILL');
  await closed;
}

function lockPathOf(cacheDir: string, fragment: Fragment): string {
  return `${new PartialFiles(cacheDir, cacheKey(fragment)).dir}.lock`;
}

describe('lock tokens', () => {
  it('name their holder, whatever its host name, and other names name no one', () => {
    const info = { pid: 4242, host: 'node-7.rack.example', time: 1_700_000_000_000 };
    expect(parseToken(tokenName(info))).toEqual(info);
    expect(tokenName(info)).not.toBe(tokenName(info));
    for (const junk of ['state.json', '1.2.3', 'x.1.ab.aG9zdA', '1.2.ab.aG9zdA.extra']) {
      expect(parseToken(junk), junk).toBeUndefined();
    }
  });
});

describe('a stale lock and many waiters in one process', () => {
  it('exactly one waiter of eight takes over a dead holder’s lock, in each of 50 trials', async () => {
    const paths = Array.from({ length: 50 }, (_, i) => join(h.cacheDir, 'partial', `t${i}.lock`));
    await locksOfKilledHolder(paths);
    for (const path of paths) {
      const got = await Promise.all(Array.from({ length: 8 }, () => tryLock(path)));
      const winners = got.filter((lock) => lock !== undefined);
      expect(winners).toHaveLength(1);
      await winners[0]!.release();
    }
    // Released locks and the losers' prepared folders leave nothing behind.
    expect(await readdir(join(h.cacheDir, 'partial'))).toEqual([]);
  });

  it('exactly one takes over a silent holder, which notices at its next refresh and keeps off', async () => {
    const path = join(h.cacheDir, 'silent.lock');
    for (let trial = 0; trial < 20; trial++) {
      const holder = (await tryLock(path, { refreshMs: 10 }))!;
      expect(holder).toBeDefined();
      const lost = once(holder.signal, 'abort');
      const got = await Promise.all(Array.from({ length: 8 }, () => tryLock(path, { now: later })));
      const takers = got.filter((lock) => lock !== undefined);
      expect(takers).toHaveLength(1);
      await lost;
      expect(holder.signal.reason).toMatchObject({ code: 'ELOCKLOST' });
      await expect(holder.assertHeld()).rejects.toMatchObject({ code: 'ELOCKLOST' });
      // Releasing a lost lock leaves the taker's alone.
      await holder.release();
      expect(await tryLock(path, { now: later })).toBeUndefined();
      await takers[0]!.release();
    }
    expect(await readdir(h.cacheDir)).toEqual([]);
  });

  it('a lock left by an older fragfetch (a JSON file) is taken over once its holder is gone', async () => {
    const path = join(h.cacheDir, 'old.lock');
    await writeFile(path, JSON.stringify({ pid: process.pid, host: 'elsewhere', time: Date.now() }));
    expect(await tryLock(path)).toBeUndefined();
    const taken = await tryLock(path, { now: later });
    expect(taken).toBeDefined();
    expect(await tryLock(path)).toBeUndefined();
    await taken!.release();
  });
});

describe('a download whose lock is taken over', () => {
  it('stops writing, waits, and finds the content the taker cached: never a failure', async () => {
    const body = randomBytesSeeded(2 * MIB, 'lost');
    // Slow: the download is far from done when its lock goes.
    h.cdn.set('/m/lost.bin', body, { limitRate: MIB });
    const manifest = h.manifest([{ path: 'lost.bin', size: body.length, integrity: sriOf(body) }]);
    const fragment = manifest.fragments[0]!;
    const lockPath = lockPathOf(h.cacheDir, fragment);
    let taken: Promise<void> | undefined;
    const takeOver = async () => {
      const taker = await tryLock(lockPath, { now: later });
      expect(taker).toBeDefined();
      const file = join(h.cacheDir, 'taker.bin');
      await writeFile(file, body);
      const sha256 = createHash('sha256').update(body).digest('base64');
      await new CacheStore(h.cacheDir).insertFile(fragment, file, sha256, body.length, {
        id: fragment.id,
        url: fragment.urls[0]!,
      });
      await taker!.release();
    };
    const report = await fetchManifest(manifest, {
      cacheDir: h.cacheDir,
      lockRefreshMs: 10,
      observer: {
        bytes: () => {
          taken ??= takeOver();
        },
      },
    });
    await taken;
    expect(report.fragments).toMatchObject({ failed: 0, downloaded: 0, cached: 1 });
    await h.cdn.idle();
    const [request, ...more] = h.cdn.requestsFor('/m/lost.bin');
    expect(more).toHaveLength(0);
    expect(request!.aborted).toBe(true);
    expect(request!.bytesSent).toBeLessThan(body.length);
    expect(await cacache.verify(h.cacheDir)).toMatchObject({ badContentCount: 0, verifiedContent: 1 });
  });
});

/**
 * Answers the manifest only once `count` processes asked for it, all at once: they then reach the
 * lock of its one fragment together, the race the takeover must survive.
 */
async function manifestGate(manifest: unknown, count: number) {
  let waiting: ServerResponse[] = [];
  let gets = 0;
  const server = createServer((req, res) => {
    req.resume();
    gets++;
    waiting.push(res);
    if (waiting.length < count) return;
    const body = JSON.stringify(manifest);
    for (const each of waiting) each.writeHead(200, { 'content-type': 'application/json' }).end(body);
    waiting = [];
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/manifest.json`,
    gets: () => gets,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

describe('four processes meeting at a stale lock', () => {
  it('one of them downloads, all exit 0, and the cache verifies clean, in each of 10 trials', async () => {
    const trials = 10;
    const processes = 4;
    const body = randomBytesSeeded(2 * MIB, 'meet');
    h.cdn.set('/m/meet.bin', body);
    const entry = { path: 'meet.bin', size: body.length, integrity: sriOf(body) };
    const fragment = h.manifest([entry]).fragments[0]!;
    const gate = await manifestGate(
      { version: 1, name: 'meet', baseUrls: [h.cdn.url('/m/')], fragments: [entry] },
      processes,
    );
    try {
      const caches = Array.from({ length: trials }, (_, i) => join(h.cacheDir, `trial-${i}`));
      await locksOfKilledHolder(caches.map((cache) => lockPathOf(cache, fragment)));
      for (const [trial, cache] of caches.entries()) {
        h.cdn.reset();
        const argv = ['fetch', gate.url, '--cache', cache, '--json', '--split-threshold', '64MiB'];
        const runs = await Promise.all(Array.from({ length: processes }, () => spawnCli(argv).done));
        expect(gate.gets()).toBe((trial + 1) * processes);
        for (const run of runs) expect(run.code, `trial ${trial}: ${run.stderr}`).toBe(0);
        const reports = runs.map((run) => JSON.parse(run.stdout));
        const downloaded = reports.reduce((sum, report) => sum + report.fragments.downloaded, 0);
        expect(downloaded, `trial ${trial}`).toBe(1);
        await h.cdn.idle();
        const served = h.cdn.requestsFor('/m/meet.bin').reduce((sum, r) => sum + r.bytesSent, 0);
        expect(served, `trial ${trial}: bytes served`).toBe(body.length);
        const verify = await cacache.verify(cache);
        expect(verify).toMatchObject({ badContentCount: 0, verifiedContent: 1, totalEntries: 1 });
        // The taken-over lock and every prepared lock folder are gone.
        expect(await readdir(join(cache, 'partial'))).toEqual([]);
      }
    } finally {
      await gate.close();
    }
  }, 60_000);
});
