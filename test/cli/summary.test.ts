/**
 * The figures of the closing summary: what a run that went wrong, or had nothing to do, must not
 * claim. In-process, through the CLI seam and against the test CDN.
 */
import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;
let dir: string;
beforeEach(async () => {
  h = await harness();
  dir = await tempDir('fragfetch-summary-');
});
afterEach(async () => {
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

function served(path: string, size: number): { path: string; size: number; integrity: string } {
  const body = randomBytesSeeded(size, path);
  h.cdn.set(`/m/${path}`, body);
  return { path, size, integrity: sriOf(body) };
}

describe('the summary', () => {
  it('says the critical fragments failed, with no time to critical, when one of them did', async () => {
    const manifest = await h.manifestFile([
      { id: 'embed', priority: 'critical', ...served('embed.bin', 4096) },
      { id: 'head', path: 'head.bin', size: 100, priority: 'critical' },
      { id: 'rest', ...served('rest.bin', 4096) },
    ]);
    const json = await runCli(['fetch', manifest, '--cache', h.cacheDir, '--json', '--no-progress']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.timeToCriticalMs).toBeNull();
    expect(report.fragments).toMatchObject({ failed: 1, criticalFailed: 1 });

    const human = await runCli(['fetch', manifest, '--cache', h.cacheDir, '--no-progress']);
    expect(human.stdout).toMatch(/^ {2}time {8}\S+ m?s in all, critical fragments failed \(1\)$/m);
    expect(human.stdout).not.toMatch(/critical fragments ready/);
  });

  it('counts in the singular: 1 fragment, 1 entry, 1 run', async () => {
    const manifest = await h.manifestFile([served('one.bin', 4096)]);
    const fetched = await runCli(['fetch', manifest, '--cache', h.cacheDir, '--no-progress']);
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stdout).toMatch(/^test: done, 1 fragment in /m);
    const valid = await runCli(['manifest', 'validate', manifest]);
    expect(valid.stdout).toBe('test: valid, 1 fragment, 4.0 KiB declared\n');
    const stats = await runCli(['cache', 'stats', '--cache', h.cacheDir]);
    expect(stats.stdout).toMatch(/^ {2}1 entry, 4\.0 KiB$/m);
    expect(stats.stdout).toMatch(/^ {2}test: 1 entry, /m);
    expect(stats.stdout).toMatch(/hit rate of the last 1 run: /);
    for (const output of [fetched.stdout, valid.stdout, stats.stdout]) {
      expect(output).not.toMatch(/\b1 (fragments|retries|requests|entries|runs|files)\b/);
    }
  });

  it('says "no lookups" rather than a hit rate of 0 of 0 when there was nothing to fetch', async () => {
    const manifest = await h.manifestFile([served('one.bin', 4096)]);
    expect((await runCli(['mirror', manifest, dir, '--cache', h.cacheDir, '--no-progress'])).code).toBe(0);
    const again = await runCli(['mirror', manifest, dir, '--cache', h.cacheDir, '--no-progress']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^ {2}cache {7}no lookups \(nothing to fetch\) in /m);
    expect(again.stdout).not.toMatch(/hit rate/);
  });
});
