import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/manifest/parse.js';
import { mirrorManifest } from '../../src/mirror/run.js';
import { runCli, spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { pollUntil } from '../support/poll.js';
import { writeManifest } from './helpers.js';

/**
 * Interruption at arbitrary points: whenever the run stops, every final name holds either nothing
 * (or what was there before) or the complete, correct file; a re-run completes the mirror. Where
 * the interruption lands is random (seeded); the assertions hold wherever it lands.
 */

const MiB = 1024 * 1024;
const files = new Map<string, Buffer>();
for (let i = 0; i < 4; i++) files.set(`shard-${i}.bin`, randomBytesSeeded(3 * MiB + i, `shard-${i}`));
const assembled = randomBytesSeeded(12 * MiB, 'assembled');
files.set('deep/assembled.bin', assembled);

let h: Harness;
let manifest: string;
const cleanup: string[] = [];

beforeAll(async () => {
  h = await harness();
  const fragments: Record<string, unknown>[] = [];
  for (const [path, body] of files) {
    if (path === 'deep/assembled.bin') continue;
    h.cdn.set(`/m/${path}`, body);
    fragments.push({
      path,
      size: body.length,
      ...(path.endsWith('1.bin') ? {} : { integrity: sriOf(body) }),
    });
  }
  h.cdn.set('/m/deep/assembled.bin', assembled);
  for (let offset = 0; offset < assembled.length; offset += 3 * MiB) {
    const bytes = assembled.subarray(offset, offset + 3 * MiB);
    fragments.push({ path: 'deep/assembled.bin', offset, size: bytes.length, integrity: sriOf(bytes) });
  }
  manifest = await writeManifest(h, fragments);
});
afterAll(async () => {
  await h.close();
  for (const path of cleanup) await rm(path, { recursive: true, force: true });
});

async function fresh(prefix: string): Promise<string> {
  const path = await tempDir(prefix);
  cleanup.push(path);
  return path;
}

/** Every regular file under `dir` outside .fragfetch/, by relative path. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .filter((p) => !p.startsWith('.fragfetch'));
}

/** No final name holds a partial or wrong file; temporary names may remain. */
async function expectNoPartialFile(dir: string): Promise<void> {
  for (const path of await filesUnder(dir)) {
    const expected = files.get(path);
    if (expected === undefined) {
      expect(path).toMatch(/(^|\/)\.[^/]+\.fragfetch-tmp$/);
      continue;
    }
    expect((await readFile(join(dir, path))).equals(expected), `${path} is complete`).toBe(true);
  }
}

async function expectComplete(dir: string): Promise<void> {
  expect((await filesUnder(dir)).sort()).toEqual([...files.keys()].sort());
  for (const [path, body] of files) expect((await readFile(join(dir, path))).equals(body), path).toBe(true);
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Resolves when anything but the state folder appears under `dir`, or when the run ends first. */
async function firstEntry(dir: string, done: Promise<unknown>): Promise<void> {
  const appeared = async () => (await readdir(dir).catch(() => [])).some((name) => name !== '.fragfetch');
  await pollUntil(appeared, { everyMs: 2, or: done });
}

async function rerun(dir: string, cache: string): Promise<void> {
  const result = await runCli(['mirror', manifest, dir, '--cache', cache, '--json', '--no-progress']);
  expect(result.code, result.stderr).toBe(0);
  await expectComplete(dir);
}

describe('fragfetch mirror interrupted', () => {
  const total = [...files.values()].reduce((sum, body) => sum + body.length, 0);
  const next = random(4);

  it.each([0, 1, 2, 3])('by an abort after a random number of bytes (seed %i), then re-run', async () => {
    const dir = await fresh('fragfetch-mirror-');
    const cache = await fresh('fragfetch-cache-');
    const controller = new AbortController();
    const threshold = Math.floor(next() * total);
    let seen = 0;
    const parsed = parseManifest(JSON.parse(await readFile(manifest, 'utf8')), manifest);
    const report = await mirrorManifest(parsed, dir, {
      cacheDir: cache,
      chunkSize: MiB,
      splitThreshold: 2 * MiB,
      signal: controller.signal,
      observer: {
        bytes: (_fragment, _url, bytes) => {
          seen += bytes;
          if (seen >= threshold) controller.abort();
        },
      },
    });
    expect(report.interrupted).toBe(true);
    await expectNoPartialFile(dir);
    await rerun(dir, cache);
  });

  it.each([0, 1, 2, 3])('by an abort while files are written (seed %i), then re-run', async () => {
    const dir = await fresh('fragfetch-mirror-');
    const cache = await fresh('fragfetch-cache-');
    // Fill the cache first, so the run below is all writing.
    expect((await runCli(['mirror', manifest, await fresh('warm-'), '--cache', cache, '--json'])).code).toBe(
      0,
    );
    const controller = new AbortController();
    const parsed = parseManifest(JSON.parse(await readFile(manifest, 'utf8')), manifest);
    const delay = Math.floor(next() * 30);
    const report = await mirrorManifest(parsed, dir, {
      cacheDir: cache,
      signal: controller.signal,
      observer: { planned: () => void setTimeout(() => controller.abort(), delay) },
    });
    await expectNoPartialFile(dir);
    if (report.interrupted) expect(report.mirror.files.written).toBeLessThanOrEqual(files.size);
    await rerun(dir, cache);
  });

  it('by SIGKILL of the binary at random moments, cold and warm cache, then re-run', async () => {
    // The built binary, as a user runs it. Kill moments are events, not clock times, so that they
    // land inside the run whatever the machine's speed: after the k-th request line of --verbose
    // (downloads and writes overlap), or once the first file shows up in <dir> (a warm cache: all
    // writing). A few random milliseconds on top move the kill around those events.
    const warmCache = await fresh('fragfetch-cache-');
    const reference = spawnCli([
      'mirror',
      manifest,
      await fresh('fragfetch-mirror-'),
      '--cache',
      warmCache,
      '-v',
    ]);
    expect((await reference.done).code).toBe(0);
    const requests = (await reference.done).stderr.split('\n').filter((l) => l.startsWith('GET ')).length;
    expect(requests).toBeGreaterThan(5);

    for (let round = 0; round < 6; round++) {
      const dir = await fresh('fragfetch-mirror-');
      const warm = round % 2 === 1;
      const cache = warm ? warmCache : await fresh('fragfetch-cache-');
      const args = ['mirror', manifest, dir, '--cache', cache, '--no-progress', '-v', '-x', '2', '-j', '4'];
      const child = spawnCli([...args, '--limit-rate', '48MiB']);
      const kill = () => setTimeout(() => child.kill('SIGKILL'), Math.floor(next() * 15));
      if (warm) void firstEntry(dir, child.done).then(kill);
      else {
        const k = 1 + Math.floor(next() * requests);
        let seen = 0;
        const onData = (chunk: Buffer) => {
          seen += chunk
            .toString()
            .split('\n')
            .filter((l) => l.startsWith('GET ')).length;
          if (seen < k) return;
          child.stderr?.off('data', onData);
          kill();
        };
        child.stderr?.on('data', onData);
      }
      const outcome = await child.done;
      expect([0, 137]).toContain(outcome.code);
      if (process.env.MIRROR_DEBUG)
        console.log('killed', round, outcome.code, JSON.stringify(await filesUnder(dir)));
      await expectNoPartialFile(dir);
      await rerun(dir, cache);
      const state = JSON.parse(await readFile(join(dir, '.fragfetch', 'state.json'), 'utf8'));
      expect(Object.keys(state.files).sort()).toEqual([...files.keys()].sort());
    }
  });
});
