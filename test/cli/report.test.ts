/**
 * What `fetch` prints at the end and along the way, through the real binary in a pipe: the human
 * summary, the single `--json` document whatever the outcome, and `--verbose` request lines.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startCdn, type TestCdn } from '../support/cdn.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { runPiped, writeManifest } from './run-bin.js';

let h: Harness;
let second: TestCdn;
let work: string;

beforeEach(async () => {
  h = await harness();
  second = await startCdn();
  work = await tempDir('fragfetch-cli-');
});

afterEach(async () => {
  await h.close();
  await second.close();
  await rm(work, { recursive: true, force: true });
});

function object(cdns: TestCdn[], path: string, size: number): { size: number; integrity: string } {
  const body = randomBytesSeeded(size, path);
  for (const cdn of cdns) cdn.set(`/m/${path}`, body);
  return { size, integrity: sriOf(body) };
}

/**
 * Three fragments over two mirrors: `a` on both, `b` only on the second (so the first answers 404
 * and the second serves it), `gone` on neither.
 */
async function twoMirrors(): Promise<string> {
  return writeManifest(work, 'mirrors', {
    version: 1,
    name: 'mirrors',
    baseUrls: [h.cdn.url('/m/'), second.url('/m/')],
    fragments: [
      { id: 'a', path: 'a.bin', priority: 'critical', ...object([h.cdn, second], 'a.bin', 4096) },
      { id: 'b', path: 'b.bin', ...object([second], 'b.bin', 8192) },
      { id: 'gone', path: 'gone.bin', size: 100 },
    ],
  });
}

describe('the summary', () => {
  it('counts, bytes, bandwidth, hit rate, retries, one line per endpoint, and the failures last', async () => {
    const result = await runPiped(['fetch', await twoMirrors(), '--cache', join(work, 'cache')]);
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^mirrors: 1 failed, 3 fragments in \S+ m?s$/);
    expect(result.stdout).toMatch(/^ {2}fragments {3}2 downloaded, 0 cached, 0 revalidated, 1 failed$/m);
    expect(result.stdout).toMatch(
      /^ {2}bytes {7}12\.0 KiB downloaded, 12\.0 KiB received, 0 B resumed, 0 B from cache$/m,
    );
    expect(result.stdout).toMatch(/^ {2}bandwidth {3}\S+ \S*B\/s average, \S+ \S*B\/s peak$/m);
    expect(result.stdout).toMatch(/^ {2}cache {7}0\.0% hit rate \(0 of 3\) in /m);
    // Failing over from the 404 of the first mirror counts as a retry.
    expect(result.stdout).toMatch(/^ {2}requests {4}\d+, \d+ retr(y|ies)$/m);
    expect(result.stdout).toMatch(/^ {2}time {8}\S+ m?s in all, critical fragments ready after \S+ m?s$/m);
    const endpoints = lines.filter((line) => line.startsWith('  endpoint'));
    expect(endpoints).toHaveLength(2);
    expect(endpoints.join('\n')).toContain(h.cdn.origin);
    expect(endpoints.join('\n')).toContain(second.origin);
    // Failures come last, one line each: id, URL, code, message.
    expect(lines.at(-2)).toBe('1 failed:');
    expect(lines.at(-1)).toMatch(
      /^ {2}gone {2}http:\/\/127\.0\.0\.1:\d+\/m\/gone\.bin {2}EHTTP {2}HTTP 404$/,
    );
  });

  it('has no endpoint lines with one endpoint, and says what came from the cache on a warm run', async () => {
    const file = await writeManifest(work, 'one', {
      version: 1,
      name: 'one',
      baseUrls: [h.cdn.url('/m/')],
      fragments: [{ path: 'a.bin', ...object([h.cdn], 'a.bin', 4096) }],
    });
    const cache = join(work, 'cache');
    expect((await runPiped(['fetch', file, '--cache', cache])).code).toBe(0);
    const warm = await runPiped(['fetch', file, '--cache', cache]);
    expect(warm.code).toBe(0);
    expect(warm.stdout).not.toMatch(/endpoint/);
    expect(warm.stdout).toMatch(/0 downloaded, 1 cached/);
    expect(warm.stdout).toMatch(/4\.0 KiB from cache/);
    expect(warm.stdout).toMatch(/100\.0% hit rate \(1 of 1\)/);
  });
});

describe('--json', () => {
  it('is exactly one document with every field of the report, even when a fragment fails (exit 1)', async () => {
    const result = await runPiped(['fetch', await twoMirrors(), '--cache', join(work, 'cache'), '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({
      ok: false,
      fragments: { total: 3, downloaded: 2, cached: 0, revalidated: 0, failed: 1 },
      bytes: {
        total: expect.any(Number),
        downloaded: 12288,
        received: expect.any(Number),
        fromCache: 0,
        resumed: 0,
      },
      cache: { hits: 0, misses: 3, hitRate: 0 },
      bandwidth: { averageBytesPerSecond: expect.any(Number), peakBytesPerSecond: expect.any(Number) },
      retries: expect.any(Number),
      durationMs: expect.any(Number),
      timeToCriticalMs: expect.any(Number),
      failures: [
        {
          id: 'gone',
          path: 'gone.bin',
          url: expect.stringMatching(/\/m\/gone\.bin$/),
          error: { code: 'EHTTP', status: 404, message: expect.any(String) },
        },
      ],
    });
    expect(report.endpoints).toHaveLength(2);
    for (const endpoint of report.endpoints) {
      expect(Object.keys(endpoint).sort()).toEqual([
        'averageBytesPerSecond',
        'bytes',
        'errors',
        'peakBytesPerSecond',
        'requests',
        'state',
        'url',
      ]);
      expect(endpoint.state).toBe('healthy');
    }
  });

  it('is one document on an invalid manifest too (exit 2), the message on stderr as well', async () => {
    const file = await writeManifest(work, 'bad', {
      version: 1,
      baseUrls: ['http://x/'],
      fragments: [{ path: 'a', size: -1 }],
    });
    const result = await runPiped(['fetch', file, '--cache', join(work, 'cache'), '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: false,
      error: {
        code: 'EMANIFEST',
        message: expect.stringMatching(/fragments\[0\]\.size/),
        problems: [expect.stringMatching(/^fragments\[0\]\.size: /)],
      },
    });
    expect(result.stderr).toMatch(/^fragfetch: .*fragments\[0\]\.size/);
  });

  it('is one document when the manifest cannot be read at all', async () => {
    const result = await runPiped([
      'fetch',
      join(work, 'missing.json'),
      '--cache',
      join(work, 'cache'),
      '--json',
    ]);
    expect(result.code).not.toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: expect.any(String) } });
  });
});

describe('--verbose', () => {
  it('writes one line per request on stderr: method, URL, range, status, bytes, ms, and why it is retried', async () => {
    const whole = object([h.cdn], 'whole.bin', 2048);
    const body = randomBytesSeeded(1000, 'ranged');
    h.cdn.set('/m/ranged.bin', body);
    h.cdn.fault('/m/whole.bin', { kind: 'status', status: 503 });
    const file = await writeManifest(work, 'verbose', {
      version: 1,
      baseUrls: [h.cdn.url('/m/')],
      fragments: [
        { id: 'whole', path: 'whole.bin', ...whole },
        {
          id: 'slice',
          path: 'ranged.bin',
          offset: 100,
          size: 200,
          integrity: sriOf(body.subarray(100, 300)),
        },
      ],
    });
    const result = await runPiped(['fetch', file, '--cache', join(work, 'cache'), '--verbose', '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, retries: 1 });
    const lines = result.stderr.trimEnd().split('\n');
    const url = (path: string) => `${h.cdn.url('/m/')}${path}`.replace(/[.]/g, '\\.');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^GET ${url('whole.bin')} → 503 0 B \\d+ ms: EHTTP .*503`)),
        expect.stringMatching(/^retry whole in \S+ m?s: EHTTP .*503/),
        expect.stringMatching(new RegExp(`^GET ${url('whole.bin')} → 200 2\\.0 KiB \\d+ ms$`)),
        expect.stringMatching(new RegExp(`^GET ${url('ranged.bin')} bytes=100-299 → 206 200 B \\d+ ms$`)),
      ]),
    );
    // Nothing else on stderr: a request line or a retry line each.
    for (const line of lines) expect(line).toMatch(/^(GET|HEAD) |^retry /);
  });
});
