import cacache from 'cacache';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { CONTENT_FOLDER } from '../../src/cache/cacache-format.js';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

/**
 * kill -9 of a fetch of many small objects while their stores are under way (each kill when the
 * test CDN has received a given number of requests): every file at a content address is whole —
 * its bytes hash to its name — and the next run stores the rest.
 */
const COUNT = 300;
const SIZE = 64 * 1024;

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** Content files whose bytes do not hash to their address. */
async function notWhole(cacheDir: string): Promise<string[]> {
  const root = join(cacheDir, CONTENT_FOLDER, 'sha256');
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  const bad: string[] = [];
  for (const entry of entries.filter((e) => e.isFile())) {
    const path = join(entry.parentPath, entry.name);
    const named = relative(root, path).split(sep).join('');
    if (
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex') !== named
    )
      bad.push(path);
  }
  return bad;
}

it(`kill -9 while ${COUNT} small objects are stored leaves only whole content at content addresses`, async () => {
  const fragments = [];
  for (let i = 0; i < COUNT; i++) {
    const body = randomBytesSeeded(SIZE, `kill-small-${i}`);
    h.cdn.set(`/m/${i}.bin`, body);
    fragments.push({ path: `${i}.bin`, size: SIZE, integrity: sriOf(body) });
  }
  const file = await h.manifestFile(fragments);
  const args = ['fetch', file, '--cache', h.cacheDir, '--no-progress'];

  let killedMidRun = 0;
  // Requests this run's CDN receives before the kill: fewer than the objects any run has left.
  for (const requests of [30, 60, 90]) {
    const before = h.cdn.arrived;
    const child = spawnCli(args);
    await Promise.race([h.cdn.until(() => h.cdn.arrived - before >= requests), once(child, 'exit')]);
    if (child.exitCode === null) killedMidRun++;
    child.kill('SIGKILL');
    await child.done;
    await h.cdn.idle();
    expect(await notWhole(h.cacheDir)).toEqual([]);
  }
  expect(killedMidRun).toBeGreaterThan(0);

  const last = await spawnCli([...args, '--json']).done;
  expect(last.code, last.stderr).toBe(0);
  const report = JSON.parse(last.stdout) as { fragments: { downloaded: number; cached: number } };
  expect(report.fragments.downloaded + report.fragments.cached).toBe(COUNT);
  expect(await notWhole(h.cacheDir)).toEqual([]);
  const verified = await cacache.verify(h.cacheDir);
  expect(verified.badContentCount).toBe(0);
  expect(verified.verifiedContent).toBe(COUNT);
});
