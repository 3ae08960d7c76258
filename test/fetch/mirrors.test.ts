/**
 * Mirrors as a pool, over HTTPS with a CA made for the run: work follows measured speed, a silent
 * mirror is hedged, a failing one is backed off, ranges are spliced only from mirrors that agree.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fetchManifest, type FetchOptions } from '../../src/fetch/engine.js';
import type { FetchReport } from '../../src/fetch/report.js';
import type { Manifest } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { loadTls } from '../../src/net/tls.js';
import { CacheStore } from '../../src/cache/store.js';
import { type CdnOptions, startCdn, type TestCdn } from '../support/cdn.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { makePki, type Pki } from '../support/pki.js';

const KiB = 1024;
const MiB = 1024 * KiB;

let pki: Pki;
// The shared set, which other test files use at the same time: never removed here.
beforeAll(async () => {
  pki = await makePki();
});

const open: { close(): Promise<void> }[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const closing of open.splice(0)) await closing.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function mirror(options: CdnOptions = {}): Promise<TestCdn> {
  const cdn = await startCdn({ ...options, tls: { cert: pki.server.cert.pem, key: pki.server.key.pem } });
  open.push(cdn);
  return cdn;
}

/** The same objects on every mirror, with the same validators (as rsync -t copies give). */
function publish(
  mirrors: TestCdn[],
  objects: [name: string, body: Buffer][],
  limitRate?: (m: TestCdn) => number | undefined,
) {
  for (const cdn of mirrors) {
    for (const [name, body] of objects) {
      const rate = limitRate?.(cdn);
      cdn.set(`/m/${name}`, body, {
        etag: `"${name}-v1"`,
        ...(rate === undefined ? {} : { limitRate: rate }),
      });
    }
  }
}

function manifestOf(baseUrls: string[], objects: [string, Buffer][], integrity = true): Manifest {
  return parseManifest(
    {
      version: 1,
      baseUrls,
      fragments: objects.map(([name, body]) => ({
        path: name,
        size: body.length,
        ...(integrity ? { integrity: sriOf(body) } : {}),
      })),
    },
    'mirrors.json',
  );
}

async function run(
  manifest: Manifest,
  options: Partial<FetchOptions> = {},
): Promise<{ report: FetchReport; cacheDir: string }> {
  const cacheDir = await tempDir('fragfetch-mirrors-');
  dirs.push(cacheDir);
  const report = await fetchManifest(manifest, {
    cacheDir,
    history: false,
    network: { tls: loadTls({ caFile: pki.ca.cert.path }, {}), env: {} },
    ...options,
  });
  return { report, cacheDir };
}

function endpoint(report: FetchReport, cdn: TestCdn) {
  const found = report.endpoints.find((e) => e.url === cdn.origin);
  return found ?? { url: cdn.origin, bytes: 0, requests: 0, errors: 0, state: 'healthy' };
}

async function cachedBytes(cacheDir: string, manifest: Manifest, index: number): Promise<Buffer> {
  const store = new CacheStore(cacheDir);
  const hit = await store.lookup(manifest.fragments[index]!);
  if (!hit) throw new Error('not cached');
  const { readFile } = await import('node:fs/promises');
  return readFile(hit.path);
}

describe('mirrors of different speed', () => {
  const objects = Array.from({ length: 24 }, (_, i): [string, Buffer] => [
    `o${i}.bin`,
    randomBytesSeeded(256 * KiB, `o${i}`),
  ]);

  it('fastest: the fast mirror carries most of the bytes though the slow one is listed first', async () => {
    const slow = await mirror();
    const fast = await mirror();
    // 512 KiB/s per connection: each object half a second there, a few milliseconds on the other.
    publish([slow, fast], objects, (cdn) => (cdn === slow ? 512 * KiB : undefined));
    const { report } = await run(manifestOf([slow.url('/m/'), fast.url('/m/')], objects), { concurrency: 8 });
    expect(report.ok).toBe(true);
    expect(report.fragments.downloaded).toBe(objects.length);
    const share = endpoint(report, fast).bytes / report.bytes.downloaded;
    expect(share).toBeGreaterThanOrEqual(0.7);
    // Both were measured: the slow one got its probe.
    expect(endpoint(report, slow).requests).toBeGreaterThan(0);
    for (const e of report.endpoints) expect(e.state).toBe('healthy');
  });

  it("fastest with -j auto (the default): the run's slots are the largest limit, not one per mirror", async () => {
    const slow = await mirror();
    const fast = await mirror();
    const many = Array.from({ length: 40 }, (_, i): [string, Buffer] => [
      `p${i}.bin`,
      randomBytesSeeded(256 * KiB, `p${i}`),
    ]);
    publish([slow, fast], many, (cdn) => (cdn === slow ? 512 * KiB : undefined));
    const { report } = await run(manifestOf([slow.url('/m/'), fast.url('/m/')], many));
    expect(report.ok).toBe(true);
    // 16 slots: the first round, before any measurement, is shared; then the fast mirror takes
    // the rest. With a slot per request each mirror could take (32), all 40 would have started at
    // once, half of them on the slow one.
    const share = endpoint(report, fast).bytes / report.bytes.downloaded;
    expect(share).toBeGreaterThanOrEqual(0.7);
    expect(report.endpoints.find((e) => e.url === slow.origin)?.concurrency).toBe(16);
  });

  it('listed: the first mirror carries everything while it is healthy', async () => {
    const first = await mirror();
    const second = await mirror();
    publish([first, second], objects);
    const { report } = await run(manifestOf([first.url('/m/'), second.url('/m/')], objects), {
      concurrency: 8,
      endpointOrder: 'listed',
    });
    expect(report.ok).toBe(true);
    await second.idle();
    expect(second.requests).toHaveLength(0);
    expect(endpoint(report, first).bytes).toBe(report.bytes.downloaded);
  });

  it("moves a large object's remaining ranges to the faster mirror", async () => {
    const slow = await mirror();
    const fast = await mirror();
    const big: [string, Buffer][] = [['big.bin', randomBytesSeeded(8 * MiB, 'big')]];
    publish([slow, fast], big, (cdn) => (cdn === slow ? 1 * MiB : undefined));
    const manifest = manifestOf([slow.url('/m/'), fast.url('/m/')], big);
    const { report, cacheDir } = await run(manifest, {
      splitThreshold: MiB,
      chunkSize: 256 * KiB,
      maxConnectionsPerObject: 4,
    });
    expect(report.ok).toBe(true);
    expect(endpoint(report, fast).bytes / report.bytes.downloaded).toBeGreaterThanOrEqual(0.7);
    // The report, not the servers' logs: a log entry lands when its response closes, maybe later.
    expect(endpoint(report, slow).bytes).toBeGreaterThan(0);
    expect(endpoint(report, fast).requests).toBeGreaterThan(4);
    expect((await cachedBytes(cacheDir, manifest, 0)).equals(big[0]![1])).toBe(true);
  });
});

it('never splices ranges of a mirror whose copy differs: that mirror is set aside for the object', async () => {
  const a = await mirror();
  const b = await mirror();
  const body = randomBytesSeeded(4 * MiB, 'a-copy');
  const other = randomBytesSeeded(4 * MiB, 'b-copy');
  a.set('/m/x.bin', body, { etag: '"a1"', limitRate: 4 * MiB });
  b.set('/m/x.bin', other, { etag: '"b1"' });
  // No integrity: only the validators can tell the copies apart.
  const manifest = manifestOf([a.url('/m/'), b.url('/m/')], [['x.bin', body]], false);
  const { report, cacheDir } = await run(manifest, {
    splitThreshold: MiB,
    chunkSize: 256 * KiB,
    maxConnectionsPerObject: 4,
  });
  expect(report.ok).toBe(true);
  expect(report.bytes.downloaded).toBe(body.length);
  expect((await cachedBytes(cacheDir, manifest, 0)).equals(body)).toBe(true);
  // b was asked (the pool measures it), answered with its own ETag, and carried none of the object.
  expect(endpoint(report, b).requests).toBeGreaterThan(0);
  expect(endpoint(report, b).bytes).toBe(0);
});

it('a mirror that fails halfway: the others carry the rest, it is backed off', async () => {
  const a = await mirror();
  const b = await mirror();
  const objects = Array.from({ length: 30 }, (_, i): [string, Buffer] => [
    `h${i}.bin`,
    randomBytesSeeded(128 * KiB, `h${i}`),
  ]);
  publish([a, b], objects, () => 4 * MiB);
  let settled = 0;
  let cut: Promise<void> | undefined;
  const { report } = await run(manifestOf([a.url('/m/'), b.url('/m/')], objects), {
    concurrency: 4,
    endpointOrder: 'listed',
    observer: {
      settled: () => {
        if (++settled === 5) cut = a.close();
      },
    },
  });
  await cut;
  expect(report.ok).toBe(true);
  expect(report.fragments.downloaded).toBe(objects.length);
  expect(endpoint(report, a).errors).toBeGreaterThan(0);
  expect(endpoint(report, a).state).not.toBe('healthy');
  expect(endpoint(report, b).bytes).toBeGreaterThan(0);
  // Open after three failures: the dead mirror is not asked for every object.
  expect(endpoint(report, a).errors).toBeLessThan(objects.length - 5);
});

describe('a mirror that accepts connections and never answers', () => {
  let silent: Server;
  let sockets: Socket[];
  let silentOrigin: string;
  beforeAll(async () => {
    sockets = [];
    silent = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentOrigin = `https://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it(
    'is hedged: the next mirror is asked after the hedging delay, not after the timeout',
    { timeout: 20_000 },
    async () => {
      const b = await mirror();
      const objects = Array.from({ length: 8 }, (_, i): [string, Buffer] => [
        `s${i}.bin`,
        randomBytesSeeded(64 * KiB, `s${i}`),
      ]);
      publish([b], objects);
      const { report } = await run(manifestOf([`${silentOrigin}/m/`, b.url('/m/')], objects), {
        concurrency: 4,
        endpointOrder: 'listed',
        // Were the hedge missing, each object would wait out this timeout, far past the test's.
        timeoutMs: 120_000,
      });
      expect(report.ok).toBe(true);
      expect(report.retries).toBe(0);
      expect(endpoint(report, b).requests).toBe(objects.length);
      const dead = report.endpoints.find((e) => e.url === silentOrigin)!;
      expect(dead.errors).toBeGreaterThan(0);
      expect(dead.bytes).toBe(0);
      // The first four, and those sent while its losses counted up to three: then it is open,
      // and the rest go straight to the mirror that answers.
      expect(dead.requests).toBeLessThanOrEqual(4 + 2);
    },
  );
});

it('a breaker opens after three failures and closes when the trial after its cool-down succeeds', async () => {
  const a = await mirror();
  const b = await mirror();
  const objects = Array.from({ length: 40 }, (_, i): [string, Buffer] => [
    `b${i}.bin`,
    randomBytesSeeded(32 * KiB, `b${i}`),
  ]);
  // b is slow enough (each object ~30 ms) that the run outlasts a's cool-down.
  publish([a, b], objects, (cdn) => (cdn === b ? 1 * MiB : undefined));
  for (const [name] of objects.slice(0, 3)) a.fault(`/m/${name}`, { kind: 'status', status: 503 });
  const { report } = await run(manifestOf([a.url('/m/'), b.url('/m/')], objects), {
    concurrency: 1,
    endpointOrder: 'listed',
    baseDelayMs: 1,
    endpointPool: { coolDownMs: 200 },
  });
  expect(report.ok).toBe(true);
  await Promise.all([a.idle(), b.idle()]);
  const arrivals = [...a.requests].sort((x, y) => x.seq - y.seq).map((r) => r.status);
  expect(arrivals.slice(0, 3)).toEqual([503, 503, 503]);
  // While open, b served (the three retries and what came before the trial), then a again.
  const served = (cdn: TestCdn) => cdn.requests.filter((r) => r.status === 200).length;
  expect(served(b)).toBeGreaterThan(3);
  expect(served(a)).toBeGreaterThan(0);
  expect(served(a) + served(b)).toBe(objects.length);
  const last = objects.at(-1)![0];
  expect(a.requestsFor(`/m/${last}`).map((r) => r.status)).toEqual([200]);
  expect(endpoint(report, a).state).toBe('healthy');
  expect(endpoint(report, a).errors).toBe(3);
});
