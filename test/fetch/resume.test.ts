import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/cache/store.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import { runCli, spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { pollUntil } from '../support/poll.js';

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

/** Bytes the saved partial states say are on disk: what a run killed now would resume from. */
async function savedBytes(): Promise<number> {
  let total = 0;
  for (const dir of await partialDirs()) {
    const state = await readFile(join(h.cacheDir, 'partial', dir, 'state.json'), 'utf8').catch(() => '{}');
    const { spans = [] } = JSON.parse(state) as { spans?: { start: number; end: number }[] };
    for (const span of spans) total += span.end - span.start;
  }
  return total;
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
    await h.cdn.idle();
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
    await h.cdn.idle();
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
    // Killed once a checkpoint of the partial state holds more than the next run must resume.
    await pollUntil(async () => (await savedBytes()) > 2 * MiB, { or: once(child, 'exit') });
    expect(child.exitCode).toBeNull();
    child.kill('SIGKILL');
    await child.done;
    await h.cdn.idle();
    h.cdn.reset();
    const result = await runCli(['fetch', file, '--cache', h.cacheDir, '--json']);
    await h.cdn.idle();
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
    await Promise.race([h.cdn.until(() => h.cdn.bytesSent > MiB), once(child, 'exit')]);
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
