/**
 * The README's cache tier for a fleet, with real processes: nginx (proxy_cache + slice) in front of
 * the test CDN, listed first in `baseUrls`, and `fragfetch fetch --endpoint-order listed` as three
 * nodes with their own caches. The first node warms the tier, the second costs the origin nothing,
 * and with the tier gone the third gets everything from the origin.
 */
import { open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { acceptsConnections } from '../../bench/net.js';
import type { FetchReport } from '../../src/fetch/report.js';
import { startCdn, type TestCdn } from '../support/cdn.js';
import { type Captured, spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { findNginx, type NginxTier, startNginxTier } from '../support/nginx-tier.js';
import { makePki, type Pki } from '../support/pki.js';

const NGINX = await findNginx();
const KiB = 1024;
const MiB = 1024 * KiB;

// Whole objects below and above the tier's 1 MiB slice, one above fragfetch's split threshold (so it
// comes in ranges that straddle slices), and byte-range fragments of another object, one across a
// slice boundary.
const OBJECTS = {
  'config.json': 2 * KiB + 3,
  'tokenizer.bin': 300 * KiB,
  'embed.bin': MiB + MiB / 2 + 7,
  'weights.bin': 5 * MiB + 12_345,
  'model.bin': 3 * MiB,
} as const;
const RANGES = [
  { id: 'header', offset: 0, size: 4096 },
  { id: 'layer.0', offset: 4096, size: MiB + 10_000 },
  { id: 'layer.1', offset: 2 * MiB + 100, size: 500_000 },
];
const SPLIT = ['--split-threshold', '2MiB', '--chunk-size', '768KiB'];

type Name = keyof typeof OBJECTS;
const bodies = new Map<Name, Buffer>();

function fragments(): Record<string, unknown>[] {
  const whole = (['config.json', 'tokenizer.bin', 'embed.bin', 'weights.bin'] as const).map((name) => ({
    path: name,
    size: OBJECTS[name],
    integrity: sriOf(bodies.get(name)!),
  }));
  const model = bodies.get('model.bin')!;
  const ranges = RANGES.map(({ id, offset, size }) => ({
    id,
    path: 'model.bin',
    offset,
    size,
    integrity: sriOf(model.subarray(offset, offset + size)),
  }));
  return [...whole, ...ranges];
}

const FRAGMENTS = 4 + RANGES.length;
const WHOLE_BYTES =
  OBJECTS['config.json'] + OBJECTS['tokenizer.bin'] + OBJECTS['embed.bin'] + OBJECTS['weights.bin'];
const TOTAL_BYTES = RANGES.reduce((sum, range) => sum + range.size, WHOLE_BYTES);

/** `<path> bytes=<start>-<end>`: the tier's 1 MiB slices that hold the bytes of the manifest. */
function slicesAsked(): string[] {
  const spans = [
    ...(['config.json', 'tokenizer.bin', 'embed.bin', 'weights.bin'] as const).map((name) => ({
      name,
      offset: 0,
      size: OBJECTS[name],
    })),
    ...RANGES.map(({ offset, size }) => ({ name: 'model.bin', offset, size })),
  ];
  const slices = new Set<string>();
  for (const { name, offset, size } of spans) {
    for (let slice = Math.floor(offset / MiB); slice * MiB < offset + size; slice++) {
      slices.add(`/m/${name} bytes=${slice * MiB}-${(slice + 1) * MiB - 1}`);
    }
  }
  return [...slices];
}

describe.skipIf(NGINX === undefined && !process.env.CI)('a cache tier for a fleet (nginx)', () => {
  let pki: Pki;
  let cdn: TestCdn;
  let tier: NginxTier;
  let work: string;
  let manifest: string;

  beforeAll(async () => {
    // CI must run this test, not skip it: .ci/run installs nginx-light when nginx is missing.
    if (NGINX === undefined) throw new Error('nginx is not installed (Debian: apt-get install nginx-light)');
    pki = await makePki();
    cdn = await startCdn();
    for (const [name, size] of Object.entries(OBJECTS) as [Name, number][]) {
      bodies.set(name, randomBytesSeeded(size, `tier:${name}`));
      cdn.set(`/m/${name}`, bodies.get(name)!);
    }
    tier = await startNginxTier({ origin: cdn.origin, tls: pki.server, binary: NGINX });
    work = await tempDir('fragfetch-fleet-');
    manifest = path.join(work, 'model.json');
    const json = {
      version: 1,
      name: 'fleet',
      baseUrls: [`${tier.origin}/m/`, cdn.url('/m/')],
      fragments: fragments(),
    };
    await writeFile(manifest, JSON.stringify(json));
  });

  afterAll(async () => {
    await tier?.close();
    await cdn?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** One node: its own cache folder, the tier first and the origin only when the tier fails. */
  async function node(name: string, extra: string[] = []): Promise<{ run: Captured; report: FetchReport }> {
    const cache = path.join(work, name);
    const argv = ['fetch', manifest, '--cache', cache, '--endpoint-order', 'listed', ...SPLIT];
    const run = await spawnCli([...argv, '--ca-file', pki.ca.cert.path, '--json', '--no-progress', ...extra])
      .done;
    expect(run.stderr).not.toContain('Error:');
    return { run, report: JSON.parse(run.stdout) as FetchReport };
  }

  function endpoint(report: FetchReport, origin: string) {
    return (
      report.endpoints.find((e) => e.url === origin) ?? { url: origin, requests: 0, bytes: 0, errors: 0 }
    );
  }

  test('a second node warms from the tier alone: the origin receives no request', async () => {
    const a = await node('a');
    expect(a.run.code, a.run.stderr).toBe(0);
    expect(a.report.fragments).toMatchObject({ total: FRAGMENTS, downloaded: FRAGMENTS, failed: 0 });
    expect(a.report.bytes.downloaded).toBe(TOTAL_BYTES);
    // listed: every byte through the tier, the origin only behind it.
    expect(endpoint(a.report, tier.origin)).toMatchObject({ bytes: TOTAL_BYTES, errors: 0 });
    expect(endpoint(a.report, cdn.origin).requests).toBe(0);
    const warmed = await tier.waitForRequests(endpoint(a.report, tier.origin).requests);
    expect(warmed.every((r) => r.cache === 'MISS' || r.cache === 'HIT')).toBe(true);

    // What reached the origin: the slices covering what A asked for, each once (the concurrent
    // misses of one slice waited for the first, proxy_cache_lock).
    await cdn.idle();
    expect(cdn.requests.map((r) => `${r.path} ${r.range}`).sort()).toEqual(slicesAsked().sort());
    const arrivedBefore = cdn.arrived;

    const b = await node('b', ['--http2']);
    expect(b.run.code, b.run.stderr).toBe(0);
    expect(b.report.fragments).toMatchObject({ downloaded: FRAGMENTS, failed: 0 });
    expect(endpoint(b.report, tier.origin).bytes).toBe(TOTAL_BYTES);
    const served = (
      await tier.waitForRequests(warmed.length + endpoint(b.report, tier.origin).requests)
    ).slice(warmed.length);
    // Every one of B's requests a cache hit (nginx logs the status of a request's first slice; the
    // origin's count, taken as requests arrive, covers the slices after it): not one request more.
    expect(served.map((r) => r.cache)).toEqual(served.map(() => 'HIT'));
    expect(served.every((r) => r.protocol === 'HTTP/2.0')).toBe(true);
    expect(cdn.arrived - arrivedBefore).toBe(0);

    await expectMirrored('b');
  });

  test('with the tier down, a node falls back to the origin and reports the tier failing', async () => {
    await tier.stop();
    expect(await acceptsConnections(tier.port)).toBe(false);
    cdn.reset();

    const c = await node('c');
    expect(c.run.code, c.run.stderr).toBe(0);
    expect(c.report.ok).toBe(true);
    expect(c.report.fragments).toMatchObject({ downloaded: FRAGMENTS, failed: 0 });
    expect(endpoint(c.report, tier.origin)).toMatchObject({ bytes: 0 });
    expect(endpoint(c.report, tier.origin).errors).toBeGreaterThan(0);
    expect(endpoint(c.report, cdn.origin).bytes).toBe(TOTAL_BYTES);
    await cdn.idle();
    for (const name of Object.keys(OBJECTS)) expect(cdn.requestsFor(`/m/${name}`).length).toBeGreaterThan(0);

    await expectMirrored('c');
  });

  /** The node's cache, materialised offline, holds the origin's bytes at each fragment's place. */
  async function expectMirrored(name: string): Promise<void> {
    const dir = path.join(work, `${name}-mirror`);
    const argv = ['mirror', manifest, dir, '--cache', path.join(work, name), '--offline', '--no-progress'];
    const run = await spawnCli(argv).done;
    expect(run.code, run.stderr).toBe(0);
    for (const [file, size] of Object.entries(OBJECTS) as [Name, number][]) {
      const handle = await open(path.join(dir, file));
      try {
        const ranges = file === 'model.bin' ? RANGES : [{ offset: 0, size }];
        for (const { offset, size: length } of ranges) {
          const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, offset);
          expect(bytesRead).toBe(length);
          expect(buffer.equals(bodies.get(file)!.subarray(offset, offset + length))).toBe(true);
        }
      } finally {
        await handle.close();
      }
    }
  }
});
