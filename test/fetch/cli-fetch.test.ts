import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;

beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

describe('fragfetch fetch (CLI)', () => {
  it('prints one JSON document on stdout with --json and exits 0', async () => {
    const body = randomBytesSeeded(4096, 1);
    h.cdn.set('/m/a.bin', body);
    const file = await h.jsonFile({
      version: 1,
      name: 'cli',
      baseUrls: [h.cdn.url('/m/')],
      fragments: [{ path: 'a.bin', size: 4096, integrity: sriOf(body), priority: 'critical' }],
    });
    const result = await runCli(['fetch', file, '--cache', h.cacheDir, '--json']);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      ok: true,
      fragments: { total: 1, downloaded: 1, cached: 0, revalidated: 0, failed: 0 },
      bytes: { total: 4096, downloaded: 4096, received: 4096, fromCache: 0, resumed: 0 },
      cache: { hits: 0, misses: 1, hitRate: 0 },
      retries: 0,
      failures: [],
    });
    for (const key of ['bandwidth', 'durationMs', 'timeToCriticalMs', 'endpoints'])
      expect(report).toHaveProperty(key);
  });

  it('exits 1 when a fragment fails, still printing the report, and names the failure', async () => {
    const file = await h.jsonFile({
      version: 1,
      baseUrls: [h.cdn.url('/m/')],
      fragments: [{ path: 'nope.bin' }],
    });
    const json = await runCli(['fetch', file, '--cache', h.cacheDir, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).failures[0].error).toMatchObject({ code: 'EHTTP', status: 404 });
    const human = await runCli(['fetch', file, '--cache', h.cacheDir, '--no-progress']);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/nope\.bin .*EHTTP/);
  });

  it.each([
    ['invalid JSON', '{"version": 1,', /not valid JSON/],
    ['wrong version', { version: 2, fragments: [{ path: 'a', url: 'http://x/a' }] }, /version: expected 1/],
    [
      'escaping path',
      { version: 1, baseUrls: ['http://x/'], fragments: [{ path: '../etc/passwd' }] },
      /fragments\[0\]\.path/,
    ],
    [
      'negative size',
      { version: 1, baseUrls: ['http://x/'], fragments: [{ path: 'a', size: -1 }] },
      /fragments\[0\]\.size/,
    ],
    ['no URL to resolve', { version: 1, fragments: [{ path: 'a' }] }, /fragments\[0\]/],
  ])('refuses a manifest with %s: exit 2, one line, cache untouched', async (_name, manifest, message) => {
    const file = await h.jsonFile(manifest);
    const cache = join(h.cacheDir, 'never');
    const result = await runCli(['fetch', file, '--cache', cache]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toBe('');
    expect(existsSync(cache)).toBe(false);
    expect(h.cdn.requests).toHaveLength(0);
  });

  it.each([
    [['fetch', 'm.json', '--concurrency', 'zero'], /--concurrency/],
    [['fetch', 'm.json', '--stall-timeout', '5 parsecs'], /invalid duration/],
    [['fetch', 'm.json', '--limit-rate', 'fast'], /invalid size/],
    [['fetch'], /missing required argument/],
    [['fetch', 'm.json', '--bogus'], /unknown option/],
    [['frobnicate'], /unknown command/],
  ])('exits 2 on a usage error: %j', async (argv, message) => {
    const result = await runCli(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('npm run demo', () => {
  it('fetches the bundled manifest through the embedded CDN, then again from the cache alone', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['dist/scripts/demo.js'], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(stdout).toMatch(/tiny-llm-demo: done, 16 fragments/);
    expect(stdout).toMatch(/100\.0% hit rate/);
    expect(stderr).toMatch(/0 in the warm run/);
  });
});
