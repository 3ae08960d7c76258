import { readFile } from 'node:fs/promises';
import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchManifest } from '../../src/fetch/engine.js';
import { runCli } from '../support/cli.js';
import { randomBytesSeeded } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;

beforeEach(async () => {
  h = await harness();
  h.cdn.set('/m/a.bin', randomBytesSeeded(4096, 61));
});
afterEach(async () => {
  await h.close();
});

/** A manifest whose URLs carry credentials in their query: one object there, one missing. */
function signedManifest(): Promise<string> {
  return h.jsonFile({
    version: 1,
    name: 'signed',
    fragments: [
      { id: 'a', path: 'a.bin', url: `${h.cdn.url('/m/a.bin')}?token=SECRET-T&v=1`, size: 4096 },
      { id: 'gone', path: 'gone.bin', url: `${h.cdn.url('/m/gone.bin')}?X-Amz-Signature=SECRET-S`, size: 10 },
    ],
  });
}

function expectNoSecret(...texts: string[]): void {
  for (const text of texts) expect(text).not.toMatch(/SECRET/);
}

describe('query tokens are never shown', () => {
  it('in --verbose lines, the summary, --json and its failures', async () => {
    const file = await signedManifest();
    const verbose = await runCli(['fetch', file, '--cache', h.cacheDir, '--verbose', '--no-progress']);
    expect(verbose.code).toBe(1);
    expectNoSecret(verbose.stdout, verbose.stderr);
    expect(verbose.stderr).toContain('a.bin?token=***&v=1');
    expect(verbose.stdout).toContain('gone.bin?X-Amz-Signature=***');

    const json = await runCli(['fetch', file, '--cache', h.cacheDir, '--json']);
    expectNoSecret(json.stdout, json.stderr);
    const report = JSON.parse(json.stdout);
    expect(report.failures[0].url).toBe(`${h.cdn.url('/m/gone.bin')}?X-Amz-Signature=***`);
  });

  it('in a dry run, in check --json and in JUnit', async () => {
    const file = await signedManifest();
    const dry = await runCli(['fetch', file, '--cache', h.cacheDir, '--dry-run']);
    expectNoSecret(dry.stdout, dry.stderr);
    expect(dry.stdout).toContain('token=***');
    const junit = `${file}.xml`;
    const check = await runCli(['check', file, '--json', '--junit', junit]);
    expectNoSecret(check.stdout, check.stderr, await readFile(junit, 'utf8'));
    expect(check.stdout).toContain('token=***');
  });

  it('in cache ls, for entries an older version stored with the token in their key', async () => {
    const key = `fragfetch:url:${h.cdn.url('/m/a.bin')}?sig=SECRET-OLD`;
    await cacache.put(h.cacheDir, key, Buffer.from('x'), { metadata: { id: 'a', url: key.slice(14) } });
    const text = await runCli(['cache', 'ls', '--cache', h.cacheDir]);
    const json = await runCli(['cache', 'ls', '--cache', h.cacheDir, '--json']);
    expectNoSecret(text.stdout, json.stdout);
    expect(JSON.parse(json.stdout)[0]).toMatchObject({
      key: `fragfetch:url:${h.cdn.url('/m/a.bin')}?sig=***`,
      url: `${h.cdn.url('/m/a.bin')}?sig=***`,
    });
  });
});

describe('a URL signed anew for each run', () => {
  it('names the same cache entry: the second run downloads nothing', async () => {
    const manifest = (sig: string, date: string) =>
      h.manifest([
        {
          id: 'a',
          path: 'a.bin',
          url: `${h.cdn.url('/m/a.bin')}?X-Amz-Date=${date}&X-Amz-Signature=${sig}`,
          size: 4096,
        },
      ]);
    const first = await fetchManifest(manifest('aa', '20261203T000000Z'), { cacheDir: h.cacheDir });
    expect(first.fragments.downloaded).toBe(1);
    const second = await fetchManifest(manifest('bb', '20261204T000000Z'), { cacheDir: h.cacheDir });
    expect(second.fragments).toMatchObject({ downloaded: 0, failed: 0 });
    expect(second.fragments.cached + second.fragments.revalidated).toBe(1);
    const index = await cacache.ls(h.cacheDir);
    expect(Object.keys(index)).toEqual([`fragfetch:url:${h.cdn.url('/m/a.bin')}`]);
  });
});
