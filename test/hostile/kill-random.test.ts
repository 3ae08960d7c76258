import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import cacache from 'cacache';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { PartialState } from '../../src/cache/partial.js';
import { cacheKey } from '../../src/cache/store.js';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

/**
 * kill -9 at random moments of one large fetch, five times in a row, then a run to the end. Each
 * moment is an event the test observes — the test CDN has served a random number of bytes in this
 * run — never a clock. FRAGFETCH_KILL_SEED=<seed> replays a run.
 */
const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const KILLS = 5;
/** Per response: 16 connections of 1 MiB/s bring 16 MiB/s, so that each kill lands mid-transfer. */
const RATE = 1 * MiB;
const SEED = Number(process.env.FRAGFETCH_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** What the engine promises a kill costs at most (object-download.ts): 5 % or 8 MiB. */
const LOSS_PER_KILL = Math.max(0.05 * SIZE, 8 * MiB);
/**
 * The allowance: what the CDN counts as served but the killed process never received. The count is
 * of bytes its sockets accepted, and some are still in the kernel's buffers when the kill lands:
 * the CDN writes a paced chunk (RATE / 10, 102 KiB) at once, and a reader keeps up with 1 MiB/s,
 * so each of the 16 connections holds a chunk or two: 16 × 256 KiB per kill, 20 MiB in all.
 */
const IN_FLIGHT_PER_KILL = 16 * 256 * 1024;
const same = { etag: '"kill-random"', lastModified: new Date('2026-01-01T00:00:00Z') };

/** mulberry32: a seeded generator in [0, 1), so that the moments of a failed run can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Bytes served in a run before its kill: a third in the first 2 MiB (before the first save by bytes,
 * where the state saved at the first answer is all there is), the rest up to 32 MiB.
 */
function threshold(random: () => number): number {
  if (random() < 1 / 3) return 1 + Math.floor(random() * 2 * MiB);
  return Math.floor(2 * MiB + random() * 30 * MiB);
}

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** Bytes the saved partial state says are on disk, 0 when there is none. */
async function savedBytes(): Promise<number> {
  const dirs = await readdir(join(h.cacheDir, 'partial')).catch(() => []);
  let total = 0;
  for (const dir of dirs.filter((name) => !name.endsWith('.lock'))) {
    const text = await readFile(join(h.cacheDir, 'partial', dir, 'state.json'), 'utf8').catch(
      () => undefined,
    );
    if (text === undefined) continue;
    for (const span of (JSON.parse(text) as PartialState).spans) total += span.end - span.start;
  }
  return total;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** Whether a stream holds exactly `expected`, read chunk by chunk (256 MiB twice in memory is a lot). */
async function streamEquals(stream: AsyncIterable<Buffer>, expected: Buffer): Promise<boolean> {
  let at = 0;
  for await (const chunk of stream) {
    if (!chunk.equals(expected.subarray(at, at + chunk.length))) return false;
    at += chunk.length;
  }
  return at === expected.length;
}

it(`a ${SIZE / MiB} MiB fetch killed -9 ${KILLS} times at random moments ends verified (seed ${SEED})`, async () => {
  console.log(`kill-random: seed ${SEED} (FRAGFETCH_KILL_SEED=${SEED} replays it)`);
  const random = seeded(SEED);
  const body = randomBytesSeeded(SIZE, `kill-random-${SEED}`);
  const fragment = { path: 'big.bin', size: SIZE, integrity: sriOf(body) };
  h.cdn.set('/m/big.bin', body, { limitRate: RATE, ...same });
  const file = await h.manifestFile([fragment]);
  const args = ['fetch', file, '--cache', h.cacheDir, '--no-progress'];

  let served = 0;
  let saved = 0;
  const figures: string[] = [];
  for (let kill = 1; kill <= KILLS; kill++) {
    const at = threshold(random);
    const before = h.cdn.bytesSent;
    const child = spawnCli(args);
    await Promise.race([h.cdn.until(() => h.cdn.bytesSent - before >= at), once(child, 'exit')]);
    expect(child.exitCode, 'the kill must land mid-transfer').toBeNull();
    child.kill('SIGKILL');
    expect((await child.done).code).toBe(137);
    await h.cdn.idle();
    const run = h.cdn.bytesSent - before;
    const nowSaved = await savedBytes();
    // A kill during a save leaves its temporary state file, which the next save overwrites: never
    // one per killed process.
    const temps = (await filesUnder(join(h.cacheDir, 'partial'))).filter((f) => f.endsWith('.tmp'));
    expect(temps.length).toBeLessThanOrEqual(1);
    // What this run received and no later run will have: served, minus what its state kept.
    const lost = run - (nowSaved - saved);
    figures.push(`kill ${kill} at ${at} B: served ${run} B, saved ${nowSaved - saved} B, lost ${lost} B`);
    served += run;
    saved = nowSaved;
  }

  // The same version, no longer paced: the last run goes to the end.
  h.cdn.set('/m/big.bin', body, same);
  const before = h.cdn.bytesSent;
  const last = await spawnCli([...args, '--json']).done;
  expect(last.code, last.stderr).toBe(0);
  const report = JSON.parse(last.stdout) as { bytes: { resumed: number } };
  await h.cdn.idle();
  const finalRun = h.cdn.bytesSent - before;
  served += finalRun;
  expect(report.bytes.resumed).toBe(saved);
  expect(finalRun).toBe(SIZE - saved);
  const bound = SIZE + KILLS * (LOSS_PER_KILL + IN_FLIGHT_PER_KILL);
  figures.push(`final run: served ${finalRun} B, resumed ${saved} B`);
  figures.push(`in all: served ${served} B = ${(served / SIZE).toFixed(3)} × the object; bound ${bound} B`);
  console.log(figures.join('\n'));
  expect(served).toBeLessThanOrEqual(bound);

  // No temporary file left: the partial folder is empty, cacache's tmp too (checked before verify,
  // which would clean it), and every file is content or index.
  expect(await readdir(join(h.cacheDir, 'partial')).catch(() => [])).toEqual([]);
  const files = await filesUnder(h.cacheDir);
  const known = /^(content-v2\/|index-v5\/|fragfetch-runs\.json$)/;
  expect(files.filter((f) => !known.test(f))).toEqual([]);
  expect(files.filter((f) => /tmp/i.test(f))).toEqual([]);

  const key = cacheKey(h.manifest([fragment]).fragments[0]!);
  expect(await streamEquals(cacache.get.stream(h.cacheDir, key), body)).toBe(true);
  const verified = await cacache.verify(h.cacheDir);
  expect(verified.badContentCount).toBe(0);
  expect(verified.verifiedContent).toBe(1);
});
