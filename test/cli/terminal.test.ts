/**
 * The binary as a person sees it: on a pseudo-terminal it draws cli-progress bars on stderr and a
 * coloured summary; in a pipe it writes plain lines only. Nothing here depends on timing: the bars
 * are drawn once when the run starts and once more when it stops, however fast it goes.
 */
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import {
  ANSI,
  HIDE_CURSOR,
  plain,
  runOnTerminal,
  runPiped,
  SGR,
  SHOW_CURSOR,
  startOnTerminal,
  writeManifest,
} from './run-bin.js';

let h: Harness;
let work: string;
let manifest: string;

beforeAll(() => {
  // The pseudo-terminal comes from util-linux `script`; without it these tests cannot mean anything.
  expect(execFileSync('script', ['--version'], { encoding: 'utf8' })).toMatch(/util-linux/);
});

beforeEach(async () => {
  // 256 KiB/s per response: a run lasts a fraction of a second, long enough for bars to be in flight.
  h = await harness({ limitRate: 256 * 1024 });
  work = await tempDir('fragfetch-cli-');
  const fragments = [0, 1, 2].map((i) => {
    const body = randomBytesSeeded(64 * 1024 * (i + 1), `tty-${i}`);
    h.cdn.set(`/m/part-${i}.bin`, body);
    return { id: `part-${i}`, path: `part-${i}.bin`, size: body.length, integrity: sriOf(body) };
  });
  manifest = await writeManifest(work, 'tty', {
    version: 1,
    name: 'tty-test',
    baseUrls: [h.cdn.url('/m/')],
    fragments,
  });
});

afterEach(async () => {
  await h.close();
  await rm(work, { recursive: true, force: true });
});

describe('on a terminal', () => {
  it('draws cli-progress bars on the terminal, takes them down, then prints the coloured summary', async () => {
    const result = await runOnTerminal(['fetch', manifest, '--cache', join(work, 'cache')], {
      COLUMNS: '100',
    });
    expect(result.code).toBe(0);
    const screen = result.stdout;
    // cli-progress hides the cursor, draws, and shows it again when stopped.
    expect(screen).toContain(HIDE_CURSOR);
    expect(screen).toContain(SHOW_CURSOR);
    expect(screen).toMatch(/[█░]{10,}/);
    expect(screen).toMatch(/\d+\/3 fragments/);
    expect(screen).toMatch(/\d+ cached/);
    expect(screen).toMatch(/ETA/);
    expect(screen.indexOf(HIDE_CURSOR)).toBeLessThan(screen.lastIndexOf(SHOW_CURSOR));
    // The summary comes after the bars are gone, styled (bold name, green status).
    const summary = screen.slice(screen.lastIndexOf(SHOW_CURSOR));
    expect(summary).toMatch(SGR);
    expect(plain(summary)).toMatch(/tty-test: done, 3 fragments/);
  });

  it('keeps the bars on stderr: with --json > file, the file holds one document and the terminal the bars', async () => {
    const out = join(work, 'report.json');
    const result = await runOnTerminal(
      ['fetch', manifest, '--cache', join(work, 'cache'), '--json'],
      {},
      { redirectStdout: out },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(HIDE_CURSOR);
    expect(result.stdout).toMatch(/[█░]{10,}/);
    const report = JSON.parse(await readFile(out, 'utf8'));
    expect(report).toMatchObject({ ok: true, fragments: { total: 3, downloaded: 3 } });
  });

  it('draws no bars with --quiet or --no-progress, and none when nothing is to be downloaded', async () => {
    const cache = join(work, 'cache');
    for (const flag of ['--quiet', '--no-progress']) {
      const result = await runOnTerminal(['fetch', manifest, '--cache', join(work, `c${flag}`), flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).not.toContain(HIDE_CURSOR);
      expect(plain(result.stdout)).toMatch(/done, 3 fragments/);
    }
    expect((await runOnTerminal(['fetch', manifest, '--cache', cache])).code).toBe(0);
    const warm = await runOnTerminal(['fetch', manifest, '--cache', cache]);
    expect(warm.stdout).not.toContain(HIDE_CURSOR);
    expect(plain(warm.stdout)).toMatch(/3 cached/);
  });

  it('takes the bars down on Ctrl-C before saying it stops, then prints the summary (exit 130)', async () => {
    // 32 KiB/s per response: minutes to finish, so Ctrl-C surely lands while the bars are up.
    h.cdn.set('/m/slow.bin', randomBytesSeeded(4 * 1024 * 1024, 'slow'), { limitRate: 32 * 1024 });
    const slow = await writeManifest(work, 'slow', {
      version: 1,
      name: 'slow',
      baseUrls: [h.cdn.url('/m/')],
      fragments: [{ path: 'slow.bin', size: 4 * 1024 * 1024 }],
    });
    const run = startOnTerminal(['fetch', slow, '--cache', join(work, 'cache')], { COLUMNS: '100' });
    // The run's bar is up: it counts "0/1 fragment".
    await run.until('0/1 fragment');
    run.type('\x03');
    const result = await run.done;
    expect(result.code).toBe(130);
    const screen = result.stdout;
    const notice = screen.indexOf('fragfetch: SIGINT, stopping');
    expect(notice).toBeGreaterThan(0);
    // The cursor is back and nothing is drawn after the notice: it stays readable.
    expect(screen.lastIndexOf(SHOW_CURSOR)).toBeLessThan(notice);
    expect(screen.slice(notice)).not.toMatch(/[█░]/);
    expect(plain(screen.slice(notice))).toMatch(/slow: interrupted, 1 fragment in /);
  });

  it('honours NO_COLOR: bars still move, but no colour anywhere', async () => {
    const result = await runOnTerminal(['fetch', manifest, '--cache', join(work, 'cache')], {
      NO_COLOR: '1',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(HIDE_CURSOR);
    expect(result.stdout).not.toMatch(SGR);
  });

  it('honours FORCE_COLOR=0 on a terminal', async () => {
    const result = await runOnTerminal(['fetch', manifest, '--cache', join(work, 'cache')], {
      FORCE_COLOR: '0',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(SGR);
  });
});

describe('in a pipe', () => {
  it('writes no bars, no carriage return and no escape sequence, on either stream', async () => {
    const result = await runPiped(['fetch', manifest, '--cache', join(work, 'cache')]);
    expect(result.code).toBe(0);
    for (const text of [result.stdout, result.stderr]) {
      expect(text).not.toMatch(ANSI);
      expect(text).not.toContain('\r');
      expect(text).not.toMatch(/[█░]/);
    }
    expect(result.stdout).toMatch(/^tty-test: done, 3 fragments in .+\n {2}fragments {3}3 downloaded/);
    // Any progress line that did appear (every 5 s) is a whole plain line.
    for (const line of result.stderr.split('\n').filter(Boolean)) {
      expect(line).toMatch(/^fragfetch: \d+\/3 fragments/);
    }
  });

  it('colours the summary with FORCE_COLOR even in a pipe, and never the progress', async () => {
    const result = await runPiped(['fetch', manifest, '--cache', join(work, 'cache')], { FORCE_COLOR: '1' });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(SGR);
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr).not.toMatch(/[█░]/);
  });

  it('prints only the summary and errors with --quiet', async () => {
    const result = await runPiped(['fetch', manifest, '--cache', join(work, 'cache'), '--quiet']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/done, 3 fragments/);
  });
});
