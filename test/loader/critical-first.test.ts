import { afterEach, beforeEach, expect, it } from 'vitest';
import { fetchManifest } from '../../src/index.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

it('has the first bytes of a large critical fragment on disk before any lower-priority fragment completes', async () => {
  const big = randomBytesSeeded(4 * 1024 * 1024, 'critical');
  h.cdn.set('/m/embed.bin', big);
  const small = Array.from({ length: 30 }, (_, i) => {
    const body = randomBytesSeeded(8192, `s${i}`);
    h.cdn.set(`/m/s${i}.bin`, body);
    return { path: `s${i}.bin`, size: body.length, integrity: sriOf(body), priority: 'high' };
  });
  const manifest = h.manifest([
    ...small,
    { path: 'embed.bin', size: big.length, integrity: sriOf(big), priority: 'critical' },
  ]);
  const events: string[] = [];
  const report = await fetchManifest(manifest, {
    cacheDir: h.cacheDir,
    splitThreshold: 1024 * 1024,
    chunkSize: 512 * 1024,
    maxConnectionsPerObject: 8,
    observer: {
      written: (fragment) => events.push(`written ${fragment.id}`),
      settled: (fragment, outcome) => events.push(`${outcome} ${fragment.id}`),
    },
  });
  expect(report.ok).toBe(true);
  const firstBytes = events.indexOf('written embed.bin');
  const firstLower = events.findIndex((e) => e.startsWith('downloaded s'));
  expect(firstBytes).toBeGreaterThanOrEqual(0);
  expect(firstBytes).toBeLessThan(firstLower);
});
