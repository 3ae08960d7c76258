import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/cache/store.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import { runCli, spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness, settle } from '../support/harness.js';

const MiB = 1024 * 1024;
let h: Harness;

beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const sentFor = (path: string) => h.cdn.requestsFor(path).reduce((sum, r) => sum + r.bytesSent, 0);

async function partialDirs(): Promise<string[]> {
  return readdir(join(h.cacheDir, 'partial')).catch(() => []);
}

/** Bytes the partial data files hold now: the live view of a download in another process. */
async function partialBytes(): Promise<number> {
  let total = 0;
  for (const dir of await partialDirs()) {
    try {
      total += statSync(join(h.cacheDir, 'partial', dir, 'data')).size;
    } catch {
      // not created yet
    }
  }
  return total;
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('resume across runs', () => {
  it('an interrupted run keeps its bytes and the next run asks only for the missing ones', async () => {
    const body = randomBytesSeeded(8 * MiB, 1);
    h.cdn.set('/m/a.bin', body, { limitRate: 8 * MiB });
    const manifest = h.manifest([{ path: 'a.bin', size: body.length, integrity: sriOf(body) }]);
    const controller = new AbortController();
    let received = 0;
    const first = await fetchManifest(manifest, {
      cacheDir: h.cacheDir,
      signal: controller.signal,
      splitThreshold: 2 * MiB,
      chunkSize: 2 * MiB,
      observer: {
        bytes: (_f, _u, n) => {
          received += n;
          if (received > 3 * MiB) controller.abort(new Error('stop'));
        },
      },
    });
    await settle();
    expect(first.interrupted).toBe(true);
    expect(first.ok).toBe(false);
    expect(first.failures).toEqual([]);
    expect(await partialDirs()).toHaveLength(1);
    const firstSent = sentFor('/m/a.bin');
    h.cdn.reset();

    const second = await fetchManifest(manifest, {
      cacheDir: h.cacheDir,
      splitThreshold: 2 * MiB,
      chunkSize: 2 * MiB,
    });
    await settle();
    expect(second.ok).toBe(true);
    expect(second.bytes.resumed).toBeGreaterThan(2 * MiB);
    // Bytes received before the abort are not asked for again.
    const secondSent = sentFor('/m/a.bin');
    expect(secondSent).toBe(body.length - second.bytes.resumed);
    expect(secondSent).toBeLessThan(body.length - 2 * MiB);
    expect(firstSent + secondSent).toBeLessThan(body.length + 5 * MiB);
    expect(h.cdn.requestsFor('/m/a.bin').every((r) => r.ifRange !== undefined)).toBe(true);
    expect((await cacache.get(h.cacheDir, cacheKey(manifest.fragments[0]!))).data.equals(body)).toBe(true);
    expect(await partialDirs()).toHaveLength(0);
  });

  it('restarts a partial download when the object changed between runs', async () => {
    const v1 = randomBytesSeeded(4 * MiB, 2);
    const v2 = randomBytesSeeded(4 * MiB, 3);
    h.cdn.set('/m/a.bin', v1, { limitRate: 8 * MiB });
    const manifest = h.manifest([{ path: 'a.bin', size: v1.length }]);
    const controller = new AbortController();
    let received = 0;
    await fetchManifest(manifest, {
      cacheDir: h.cacheDir,
      signal: controller.signal,
      observer: {
        bytes: (_f, _u, n) => {
          received += n;
          if (received > MiB) controller.abort(new Error('stop'));
        },
      },
    });
    h.cdn.set('/m/a.bin', v2);
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir });
    expect(report.ok).toBe(true);
    expect((await cacache.get(h.cacheDir, cacheKey(manifest.fragments[0]!))).data.equals(v2)).toBe(true);
  });

  it('resumes after the process was killed with SIGKILL', async () => {
    const body = randomBytesSeeded(12 * MiB, 4);
    h.cdn.set('/m/a.bin', body, { limitRate: 3 * MiB });
    const file = await h.manifestFile([{ path: 'a.bin', size: body.length, integrity: sriOf(body) }]);
    const child = spawnCli(['fetch', file, '--cache', h.cacheDir, '--no-progress']);
    await waitFor(async () => (await partialBytes()) > 4 * MiB || child.exitCode !== null);
    expect(child.exitCode).toBeNull();
    // Give the 1 s state checkpoint a chance to land, as it would in a real run.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    child.kill('SIGKILL');
    await child.done;
    await settle(100);
    h.cdn.reset();
    const result = await runCli(['fetch', file, '--cache', h.cacheDir, '--json']);
    await settle();
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.bytes.resumed).toBeGreaterThan(2 * MiB);
    expect(sentFor('/m/a.bin')).toBe(body.length - report.bytes.resumed);
  });

  it('exits 130 on SIGINT, keeping the partial download', async () => {
    const body = randomBytesSeeded(6 * MiB, 5);
    h.cdn.set('/m/a.bin', body, { limitRate: 2 * MiB });
    const file = await h.manifestFile([{ path: 'a.bin', size: body.length }]);
    const child = spawnCli(['fetch', file, '--cache', h.cacheDir, '--json']);
    await waitFor(async () => (await partialBytes()) > MiB || child.exitCode !== null);
    expect(child.exitCode).toBeNull();
    child.kill('SIGINT');
    const result = await child.done;
    expect(result.code).toBe(130);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, interrupted: true });
    expect(result.stderr).toContain('SIGINT');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await partialDirs()).toHaveLength(1);
  });
});
