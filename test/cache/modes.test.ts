import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/cache/store.js';
import { fetchManifest } from '../../src/fetch/engine.js';
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

const run = (
  manifest = plain(),
  extra: Parameters<typeof fetchManifest>[1] extends infer O ? Partial<O> : never = {},
) => fetchManifest(manifest, { cacheDir: h.cacheDir, ...extra });

/** A fragment without integrity: cached under its URL, with the server's validators. */
function plain() {
  return h.manifest([{ path: 'p.bin' }]);
}

describe('revalidation of fragments without integrity', () => {
  it('sends If-None-Match and If-Modified-Since; a 304 is a hit counted as revalidated', async () => {
    h.cdn.set('/m/p.bin', randomBytesSeeded(5000, 1));
    expect((await run()).fragments.downloaded).toBe(1);
    await h.cdn.idle();
    const info = await cacache.get.info(h.cacheDir, cacheKey(plain().fragments[0]!));
    const etag = (info?.metadata as { etag?: string }).etag;
    expect(etag).toMatch(/^"/);
    h.cdn.reset();

    const settled: string[] = [];
    const report = await run(plain(), { observer: { settled: (_f, outcome) => settled.push(outcome) } });
    await h.cdn.idle();
    const requests = h.cdn.requestsFor('/m/p.bin');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.ifNoneMatch).toBe(etag);
    expect(requests[0]!.ifModifiedSince).toBeDefined();
    expect(requests[0]!.status).toBe(304);
    expect(report.fragments).toMatchObject({ total: 1, downloaded: 0, cached: 0, revalidated: 1 });
    expect(report.cache).toMatchObject({ hits: 1, misses: 0, hitRate: 1 });
    expect(report.bytes).toMatchObject({ downloaded: 0, fromCache: 5000 });
    expect(settled).toEqual(['revalidated']);
  });

  it('keeps both validators of a small object, received whole into memory', async () => {
    const body = randomBytesSeeded(5000, 2);
    h.cdn.set('/m/s.bin', body);
    const small = () => h.manifest([{ path: 's.bin', size: body.length }]);
    expect((await run(small())).fragments.downloaded).toBe(1);
    await h.cdn.idle();
    const info = await cacache.get.info(h.cacheDir, cacheKey(small().fragments[0]!));
    const metadata = info?.metadata as { etag?: string; lastModified?: string };
    expect(metadata.etag).toMatch(/^"/);
    expect(metadata.lastModified).toMatch(/ GMT$/);
  });

  it('replaces the entry when the server answers 200 with new content', async () => {
    h.cdn.set('/m/p.bin', randomBytesSeeded(5000, 1));
    await run();
    const v2 = randomBytesSeeded(6000, 2);
    h.cdn.set('/m/p.bin', v2);
    h.cdn.reset();
    const report = await run();
    expect(report.fragments).toMatchObject({ downloaded: 1, revalidated: 0, failed: 0 });
    const key = cacheKey(plain().fragments[0]!);
    const { data } = await cacache.get(h.cacheDir, key);
    expect(Buffer.compare(data, v2)).toBe(0);
    // The third run asks with the new validators and gets a 304.
    h.cdn.reset();
    expect((await run()).fragments.revalidated).toBe(1);
  });

  it('reports revalidated in the --json report of the CLI', async () => {
    h.cdn.set('/m/p.bin', randomBytesSeeded(100, 1));
    const file = await h.jsonFile({
      version: 1,
      baseUrls: [h.cdn.url('/m/')],
      fragments: [{ path: 'p.bin' }],
    });
    expect((await runCli(['fetch', file, '--cache', h.cacheDir, '--json'])).code).toBe(0);
    const second = await runCli(['fetch', file, '--cache', h.cacheDir, '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).fragments).toMatchObject({ revalidated: 1, downloaded: 0 });
  });

  it('keeps the cached copy, with a warning, when revalidation fails', async () => {
    h.cdn.set('/m/p.bin', randomBytesSeeded(100, 1));
    await run();
    h.cdn.fault('/m/p.bin', { kind: 'status', status: 503 });
    const warnings: string[] = [];
    const report = await run(plain(), { observer: { warn: (m) => warnings.push(m) } });
    expect(report.ok).toBe(true);
    expect(report.fragments.cached).toBe(1);
    expect(warnings.join('\n')).toMatch(/cannot revalidate p\.bin \(HTTP 503\)/);
  });
});

describe('revalidation of range fragments and of entries without validators', () => {
  it('asks for the window only, and a 304 keeps the entry', async () => {
    h.cdn.set('/m/big.bin', randomBytesSeeded(20_000, 9));
    const manifest = h.manifest([{ path: 'big.bin', offset: 1000, size: 500 }]);
    await run(manifest);
    h.cdn.reset();
    const report = await run(manifest);
    await h.cdn.idle();
    const [request] = h.cdn.requestsFor('/m/big.bin');
    expect(request).toMatchObject({ range: 'bytes=1000-1499', status: 304 });
    expect(report.fragments.revalidated).toBe(1);
  });

  it('uses an entry the server gave no validator for as it is (nothing to ask with)', async () => {
    h.cdn.set('/m/p.bin', randomBytesSeeded(100, 1), { etag: null, lastModified: null });
    await run();
    h.cdn.reset();
    const report = await run();
    await h.cdn.idle();
    expect(h.cdn.requests).toHaveLength(0);
    expect(report.fragments.cached).toBe(1);
  });
});

describe('fragments with integrity', () => {
  it('are hits by content and send nothing by default', async () => {
    const body = randomBytesSeeded(3000, 3);
    h.cdn.set('/m/i.bin', body);
    const manifest = h.manifest([{ path: 'i.bin', size: 3000, integrity: sriOf(body) }]);
    await run(manifest);
    h.cdn.reset();
    const report = await run(manifest);
    await h.cdn.idle();
    expect(h.cdn.requests).toHaveLength(0);
    expect(report.fragments.cached).toBe(1);
  });

  it('--prefer-online revalidates them by a conditional request', async () => {
    const body = randomBytesSeeded(3000, 3);
    h.cdn.set('/m/i.bin', body);
    const manifest = h.manifest([{ path: 'i.bin', size: 3000, integrity: sriOf(body) }]);
    await run(manifest);
    h.cdn.reset();
    const report = await run(manifest, { cacheMode: 'prefer-online' });
    await h.cdn.idle();
    const requests = h.cdn.requestsFor('/m/i.bin');
    expect(requests).toHaveLength(1);
    expect(requests[0]!.ifNoneMatch).toMatch(/^"/);
    expect(requests[0]!.status).toBe(304);
    expect(report.fragments.revalidated).toBe(1);
  });

  it('--prefer-online downloads again and verifies when the server answers 200', async () => {
    const body = randomBytesSeeded(3000, 3);
    h.cdn.set('/m/i.bin', body);
    const manifest = h.manifest([{ path: 'i.bin', size: 3000, integrity: sriOf(body) }]);
    await run(manifest);
    h.cdn.set('/m/i.bin', body); // a new version (new ETag) of the same bytes
    h.cdn.reset();
    const report = await run(manifest, { cacheMode: 'prefer-online' });
    expect(report.fragments).toMatchObject({ downloaded: 1, failed: 0 });
    expect(report.ok).toBe(true);
  });
});

describe('offline modes', () => {
  it('--prefer-offline uses cached entries without any request', async () => {
    h.cdn.set('/m/p.bin', randomBytesSeeded(100, 1));
    await run();
    h.cdn.reset();
    const report = await run(plain(), { cacheMode: 'prefer-offline' });
    await h.cdn.idle();
    expect(h.cdn.requests).toHaveLength(0);
    expect(report.fragments.cached).toBe(1);
  });

  it('--offline serves from the cache, fails what is missing with EOFFLINE, and sends no request', async () => {
    h.cdn.set('/m/p.bin', randomBytesSeeded(100, 1));
    h.cdn.set('/m/q.bin', randomBytesSeeded(100, 2));
    await run();
    h.cdn.reset();
    const file = await h.jsonFile({
      version: 1,
      baseUrls: [h.cdn.url('/m/')],
      fragments: [{ path: 'p.bin' }, { path: 'q.bin' }],
    });
    const result = await runCli(['fetch', file, '--cache', h.cacheDir, '--offline', '--json']);
    await h.cdn.idle();
    expect(h.cdn.requests).toHaveLength(0);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.fragments).toMatchObject({ cached: 1, failed: 1 });
    expect(report.failures[0]).toMatchObject({ id: 'q.bin', error: { code: 'EOFFLINE' } });
  });

  it('--offline refuses a manifest URL with EOFFLINE and exit 1', async () => {
    h.cdn.set('/m/manifest.json', Buffer.from('{}'));
    const result = await runCli(['fetch', h.cdn.url('/m/manifest.json'), '--cache', h.cacheDir, '--offline']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--offline.*manifests are not cached/);
    expect(h.cdn.requests).toHaveLength(0);
  });

  it('rejects two modes at once as a usage error', async () => {
    const result = await runCli(['fetch', 'x.json', '--offline', '--prefer-online']);
    expect(result.code).toBe(2);
  });
});

describe('identical content named twice', () => {
  it('is downloaded once per run: same integrity, or same URL and range', async () => {
    const body = randomBytesSeeded(8192, 4);
    h.cdn.set('/m/a.bin', body);
    h.cdn.set('/m/big.bin', randomBytesSeeded(20000, 5));
    const manifest = h.manifest([
      { id: 'one', path: 'a.bin', integrity: sriOf(body) },
      { id: 'two', path: 'a.bin', integrity: sriOf(body) },
      { id: 'r1', path: 'big.bin', offset: 100, size: 1000 },
      { id: 'r2', path: 'big.bin', offset: 100, size: 1000 },
    ]);
    const report = await run(manifest);
    await h.cdn.idle();
    expect(report.fragments).toMatchObject({ downloaded: 4, failed: 0 });
    expect(h.cdn.requestsFor('/m/a.bin')).toHaveLength(1);
    expect(h.cdn.requestsFor('/m/big.bin')).toHaveLength(1);
    expect(report.bytes.downloaded).toBe(8192 + 1000);
  });
});
