import net from 'node:net';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/cache/store.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

const MiB = 1024 * 1024;
let h: Harness;

beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

async function cached(manifestFragment: Parameters<typeof cacheKey>[0]): Promise<Buffer> {
  const { data } = await cacache.get(h.cacheDir, cacheKey(manifestFragment));
  return data;
}

describe('fetch', () => {
  it('downloads every fragment in priority order, verified, into the cache', async () => {
    const bodies = [1, 2, 3, 4].map((seed) => randomBytesSeeded(64 * 1024 + seed, seed));
    for (const [i, body] of bodies.entries()) h.cdn.set(`/m/f${i}.bin`, body);
    const manifest = h.manifest([
      { path: 'f0.bin', size: bodies[0]!.length, integrity: sriOf(bodies[0]!), priority: 'low' },
      { path: 'f1.bin', size: bodies[1]!.length, integrity: sriOf(bodies[1]!), priority: 'critical' },
      { path: 'f2.bin', size: bodies[2]!.length, priority: 'high', importance: 0.2 },
      { path: 'f3.bin', integrity: sriOf(bodies[3]!, 'sha512'), priority: 'high', importance: 0.9 },
    ]);
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir, concurrency: 1 });
    await h.cdn.idle();
    expect(report.ok).toBe(true);
    expect(report.fragments).toMatchObject({ total: 4, downloaded: 4, cached: 0, failed: 0 });
    expect(h.cdn.requests.map((r) => r.path)).toEqual(['/m/f1.bin', '/m/f3.bin', '/m/f2.bin', '/m/f0.bin']);
    for (const [i, fragment] of manifest.fragments.entries()) {
      expect((await cached(fragment)).equals(bodies[i]!)).toBe(true);
    }
    expect(report.bytes.downloaded).toBe(bodies.reduce((sum, b) => sum + b.length, 0));
    expect(report.timeToCriticalMs).not.toBeNull();
  });

  it('fetches small objects without partial state or locks, and leaves no temporary file', async () => {
    const good = randomBytesSeeded(200 * 1024, 'small-good');
    const bad = randomBytesSeeded(100 * 1024, 'small-bad');
    const big = randomBytesSeeded(300 * 1024, 'not-small');
    h.cdn.set('/m/good.bin', good);
    h.cdn.set('/m/bad.bin', bad);
    h.cdn.set('/m/big.bin', big);
    h.cdn.fault('/m/bad.bin', { kind: 'corrupt' }, { times: 10 });
    const manifest = h.manifest([
      { path: 'good.bin', size: good.length, integrity: sriOf(good) },
      { path: 'bad.bin', size: bad.length, integrity: sriOf(bad) },
      { path: 'big.bin', size: big.length, integrity: sriOf(big) },
    ]);
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir });
    expect(report.fragments).toMatchObject({ downloaded: 2, failed: 1 });
    expect(report.failures[0]).toMatchObject({ id: 'bad.bin', error: { code: 'EINTEGRITY' } });
    expect((await cached(manifest.fragments[0]!)).equals(good)).toBe(true);
    expect((await cached(manifest.fragments[2]!)).equals(big)).toBe(true);
    // Neither the verified nor the corrupt small download left a file or a lock in partial/.
    expect(await readdir(join(h.cacheDir, 'partial'))).toEqual([]);
  });

  it('sends no request on a warm re-run and does not re-hash', async () => {
    const body = randomBytesSeeded(300_000, 7);
    h.cdn.set('/m/a.bin', body);
    const manifest = h.manifest([{ path: 'a.bin', size: body.length, integrity: sriOf(body) }]);
    await fetchManifest(manifest, { cacheDir: h.cacheDir });
    await h.cdn.idle();
    h.cdn.reset();
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir });
    expect(h.cdn.requests).toHaveLength(0);
    expect(report.fragments).toMatchObject({ cached: 1, downloaded: 0 });
    expect(report.cache.hitRate).toBe(1);
    expect(report.bytes.fromCache).toBe(body.length);
  });

  it('splits a large object into parallel ranges and assembles it byte-exact', async () => {
    const body = randomBytesSeeded(10 * MiB + 123, 11);
    h.cdn.set('/m/big.bin', body);
    const manifest = h.manifest([{ path: 'big.bin', size: body.length, integrity: sriOf(body) }]);
    // 11 ranges at once listen to one round's signal: no leak warning may reach the user's terminal.
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const report = await fetchManifest(manifest, {
      cacheDir: h.cacheDir,
      splitThreshold: MiB,
      chunkSize: MiB,
    }).finally(() => process.off('warning', onWarning));
    await h.cdn.idle();
    expect(warnings).toEqual([]);
    expect(report.ok).toBe(true);
    const requests = h.cdn.requestsFor('/m/big.bin');
    expect(requests).toHaveLength(11);
    expect(requests.every((r) => r.status === 206)).toBe(true);
    expect((await cached(manifest.fragments[0]!)).equals(body)).toBe(true);
  });

  it("reads a fragment's URLs once per download, not once per request", async () => {
    // `urls` may be made anew at each read (manifest/resolve.ts): 11 ranges read them as often as 1.
    const body = randomBytesSeeded(10 * MiB + 123, 12);
    h.cdn.set('/m/big.bin', body);
    const readsFor = async (chunkSize: number, cacheDir: string): Promise<number> => {
      const manifest = h.manifest([{ path: 'big.bin', size: body.length, integrity: sriOf(body) }]);
      const [url] = manifest.fragments[0]!.urls;
      let reads = 0;
      Object.defineProperty(manifest.fragments[0]!, 'urls', {
        get: () => (reads++, [url]),
        enumerable: true,
        configurable: true,
      });
      const report = await fetchManifest(manifest, { cacheDir, splitThreshold: MiB, chunkSize });
      expect(report.ok).toBe(true);
      return reads;
    };
    const split = await readsFor(MiB, h.cacheDir);
    await h.cdn.idle();
    expect(h.cdn.requestsFor('/m/big.bin')).toHaveLength(11);
    const other = await tempDir('fragfetch-cache-');
    try {
      expect(split).toBe(await readsFor(16 * MiB, other));
    } finally {
      await rm(other, { recursive: true, force: true });
    }
    await h.cdn.idle();
    expect(h.cdn.requestsFor('/m/big.bin')).toHaveLength(12);
  });

  it('fetches a byte-range fragment with Range and stores only that slice', async () => {
    const body = randomBytesSeeded(200_000, 12);
    h.cdn.set('/m/model.bin', body);
    const slice = body.subarray(4096, 4096 + 65536);
    const manifest = h.manifest([{ path: 'model.bin', offset: 4096, size: 65536, integrity: sriOf(slice) }]);
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir });
    await h.cdn.idle();
    expect(report.ok).toBe(true);
    expect(h.cdn.requests[0]?.range).toBe('bytes=4096-69631');
    expect((await cached(manifest.fragments[0]!)).equals(slice)).toBe(true);
  });

  it('stores a fragment without integrity under the hash of its bytes, with the validators', async () => {
    const body = randomBytesSeeded(5000, 13);
    h.cdn.set('/m/x.bin', body, { etag: '"v1"' });
    const manifest = h.manifest([{ path: 'x.bin' }]);
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir });
    expect(report.ok).toBe(true);
    const info = await cacache.get.info(h.cacheDir, cacheKey(manifest.fragments[0]!));
    expect(info?.integrity).toBe(sriOf(body));
    expect(info?.metadata).toMatchObject({ etag: '"v1"', url: h.cdn.url('/m/x.bin') });
  });

  it('downloads content named twice only once', async () => {
    const body = randomBytesSeeded(10_000, 14);
    h.cdn.set('/m/a.bin', body);
    h.cdn.set('/m/b.bin', body);
    const sri = sriOf(body);
    const manifest = h.manifest([
      { path: 'a.bin', integrity: sri },
      { path: 'b.bin', integrity: sri },
    ]);
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir });
    await h.cdn.idle();
    expect(report.fragments.downloaded).toBe(2);
    expect(h.cdn.requests).toHaveLength(1);
  });

  it('fails one fragment on 404 at once and finishes the others', async () => {
    const body = randomBytesSeeded(1000, 15);
    h.cdn.set('/m/ok.bin', body);
    const manifest = h.manifest([{ path: 'missing.bin' }, { path: 'ok.bin', integrity: sriOf(body) }]);
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir, baseDelayMs: 1 });
    await h.cdn.idle();
    expect(report.ok).toBe(false);
    expect(report.fragments).toMatchObject({ downloaded: 1, failed: 1 });
    expect(h.cdn.requestsFor('/m/missing.bin')).toHaveLength(1);
    expect(report.failures).toEqual([
      expect.objectContaining({
        id: 'missing.bin',
        error: expect.objectContaining({ code: 'EHTTP', status: 404 }),
      }),
    ]);
  });

  it('refuses an object whose size differs from the manifest (ESIZE), caching nothing', async () => {
    h.cdn.set('/m/a.bin', randomBytesSeeded(1000, 16));
    // Larger than said, and smaller: a body that fits the memory of a small object is no excuse.
    for (const size of [999, 1001]) {
      const manifest = h.manifest([{ path: 'a.bin', size }]);
      const report = await fetchManifest(manifest, { cacheDir: h.cacheDir });
      expect(report.failures[0]?.error.code).toBe('ESIZE');
      expect(await cacache.ls(h.cacheDir)).toEqual({});
    }
  });

  it('fails over to the next endpoint', async () => {
    const body = randomBytesSeeded(20_000, 17);
    h.cdn.set('/m/a.bin', body);
    const manifest = h.manifest([{ path: 'a.bin', integrity: sriOf(body) }], {
      baseUrls: ['http://127.0.0.1:9/dead/', h.cdn.url('/m/')],
    });
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir, baseDelayMs: 1 });
    expect(report.ok).toBe(true);
    expect(report.retries).toBe(1);
    expect(report.endpoints.map((e) => e.errors)).toEqual([1, 0]);
  });

  it('fails over for a small object too, after one request to an endpoint that drops it', async () => {
    const body = randomBytesSeeded(20_000, 18);
    h.cdn.set('/m/a.bin', body);
    let connections = 0;
    const dropping = net.createServer((socket) => {
      connections++;
      socket.once('data', () => socket.destroy());
    });
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
    const { port } = dropping.address() as net.AddressInfo;
    try {
      const manifest = h.manifest([{ path: 'a.bin', size: body.length, integrity: sriOf(body) }], {
        baseUrls: [`http://127.0.0.1:${port}/dead/`, h.cdn.url('/m/')],
      });
      // Counted once, then the next endpoint: never asked twice of the one that dropped it.
      const report = await fetchManifest(manifest, { cacheDir: h.cacheDir, baseDelayMs: 1, retries: 1 });
      await h.cdn.idle();
      expect(report.ok).toBe(true);
      expect(report.requests).toBe(2);
      expect(report.endpoints.map((e) => e.errors)).toEqual([1, 0]);
      expect(connections).toBe(1);
      expect(h.cdn.requestsFor('/m/a.bin')).toHaveLength(1);
    } finally {
      await new Promise((resolve) => dropping.close(resolve));
    }
  });
});
