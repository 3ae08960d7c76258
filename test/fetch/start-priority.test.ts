import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchManifest } from '../../src/fetch/engine.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

const KiB = 1024;
let h: Harness;

beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

describe('priority at the start of a run', () => {
  it('gives a large critical object its connections before any lower-priority fragment starts', async () => {
    const big = randomBytesSeeded(4096 * KiB, 51);
    h.cdn.set('/m/critical.bin', big);
    const small = Array.from({ length: 30 }, (_, i) => {
      const body = randomBytesSeeded(64 * KiB, 100 + i);
      h.cdn.set(`/m/s${i}.bin`, body);
      return { path: `s${i}.bin`, size: body.length, integrity: sriOf(body), priority: 'high' };
    });
    const manifest = h.manifest([
      ...small,
      { path: 'critical.bin', size: big.length, integrity: sriOf(big), priority: 'critical' },
    ]);
    const report = await fetchManifest(manifest, {
      cacheDir: h.cacheDir,
      concurrency: 16,
      splitThreshold: 1024 * KiB,
      chunkSize: 256 * KiB,
      maxConnectionsPerObject: 8,
    });
    await h.cdn.idle();
    expect(report.failures).toEqual([]);

    const arrivals = [...h.cdn.requests].sort((a, b) => a.seq - b.seq);
    const critical = arrivals.filter((r) => r.path === '/m/critical.bin');
    const firstLower = arrivals.findIndex((r) => r.path !== '/m/critical.bin');
    expect(critical).toHaveLength(16);
    // Its first round, 8 connections wide, is all under way before the first lower fragment asks.
    expect(critical.slice(0, 8).every((r) => r.seq < arrivals[firstLower]!.seq)).toBe(true);
    expect(firstLower).toBeGreaterThanOrEqual(8);
  });
});
