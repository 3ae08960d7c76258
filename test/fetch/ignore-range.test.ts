import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/cache/store.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import type { Fragment } from '../../src/manifest/fragment.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

const MiB = 1024 * 1024;
let h: Harness;

beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** `count` byte ranges covering most of `body`, of uneven sizes (small ones held in memory, large on disk). */
function ranges(path: string, body: Buffer, count: number, priority: string) {
  const step = Math.floor(body.length / count);
  return Array.from({ length: count }, (_, i) => {
    const offset = i * step;
    const size = i % 5 === 0 ? step : Math.floor(step / 3) + i;
    const slice = body.subarray(offset, offset + size);
    return { id: `${path}#${i}`, path, offset, size, integrity: sriOf(slice), priority };
  });
}

async function cached(fragment: Fragment): Promise<Buffer> {
  return (await cacache.get(h.cacheDir, cacheKey(fragment))).data;
}

describe('a server that ignores Range', () => {
  it('costs one download of each object, whatever the number of fragments cut from it', async () => {
    const a = randomBytesSeeded(8 * MiB, 41);
    const b = randomBytesSeeded(6 * MiB, 42);
    h.cdn.set('/m/a.bin', a);
    h.cdn.set('/m/b.bin', b);
    h.cdn.fault('/m/a.bin', { kind: 'ignoreRange' }, { times: Number.POSITIVE_INFINITY });
    h.cdn.fault('/m/b.bin', { kind: 'ignoreRange' }, { times: Number.POSITIVE_INFINITY });
    // Interleaved priorities, so the fragments of one object do not come in one run of the order.
    const manifest = h.manifest([
      ...ranges('a.bin', a, 60, 'high'),
      ...ranges('b.bin', b, 40, 'normal'),
      ...ranges('a.bin', a, 7, 'low').map((f, i) => {
        const offset = f.offset + 17;
        return { ...f, id: `late${i}`, offset, integrity: sriOf(a.subarray(offset, offset + f.size)) };
      }),
    ]);
    const warnings: string[] = [];
    const report = await fetchManifest(manifest, {
      cacheDir: h.cacheDir,
      observer: { warn: (m) => warnings.push(m) },
    });
    await h.cdn.idle();

    expect(report.failures).toEqual([]);
    expect(report.fragments.downloaded).toBe(107);
    for (const fragment of manifest.fragments) {
      const source = fragment.path === 'a.bin' ? a : b;
      const want = source.subarray(fragment.offset!, fragment.offset! + fragment.size!);
      expect((await cached(fragment)).equals(want)).toBe(true);
    }
    // One range request finds out, one whole download serves every fragment of the object.
    expect(h.cdn.requestsFor('/m/a.bin')).toHaveLength(2);
    expect(h.cdn.requestsFor('/m/b.bin')).toHaveLength(2);
    expect(report.bytes.received).toBeLessThanOrEqual(1.05 * (a.length + b.length));
    expect(report.requests).toBe(4);
    const warning = `${h.cdn.origin} ignores Range: fetching each object whole, once`;
    expect(warnings.filter((m) => m.includes('ignores Range'))).toEqual([warning]);
    expect(report.warnings).toEqual([warning]);
  });

  it('retries a cut whose stream broke, for the fragments it had not reached', async () => {
    const a = randomBytesSeeded(4 * MiB, 43);
    h.cdn.set('/m/a.bin', a);
    h.cdn.fault('/m/a.bin', { kind: 'ignoreRange' });
    h.cdn.fault('/m/a.bin', { kind: 'reset', afterBytes: 2 * MiB });
    const manifest = h.manifest(ranges('a.bin', a, 20, 'normal'));
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir, baseDelayMs: 5 });
    await h.cdn.idle();
    expect(report.failures).toEqual([]);
    expect(report.retries).toBe(1);
    const [probe, broken, again] = h.cdn.requestsFor('/m/a.bin');
    expect(probe?.range).toBeDefined();
    expect([broken?.range, broken?.aborted]).toEqual([undefined, true]);
    expect([again?.range, again?.aborted]).toEqual([undefined, false]);
    for (const fragment of manifest.fragments) {
      const want = a.subarray(fragment.offset!, fragment.offset! + fragment.size!);
      expect((await cached(fragment)).equals(want)).toBe(true);
    }
  });

  it('fails only the windows that cannot be cut (past the end, wrong bytes), leaving no temporary file', async () => {
    const a = randomBytesSeeded(MiB, 44);
    h.cdn.set('/m/a.bin', a);
    h.cdn.fault('/m/a.bin', { kind: 'ignoreRange' }, { times: Number.POSITIVE_INFINITY });
    const good = ranges('a.bin', a, 8, 'normal');
    const manifest = h.manifest([
      ...good,
      { id: 'past', path: 'a.bin', offset: MiB - 10, size: 100 },
      { id: 'wrong', path: 'a.bin', offset: 1000, size: 100, integrity: sriOf(Buffer.from('other')) },
    ]);
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir, baseDelayMs: 5 });
    await h.cdn.idle();
    expect(report.failures.map((f) => [f.id, f.error.code]).sort()).toEqual([
      ['past', 'ESIZE'],
      ['wrong', 'EINTEGRITY'],
    ]);
    expect(report.fragments.downloaded).toBe(good.length);
    // The probe, the cut, and the one clean retry of the window whose bytes did not verify.
    expect(h.cdn.requestsFor('/m/a.bin')).toHaveLength(3);
    expect(await readdir(join(h.cacheDir, 'partial')).catch(() => [])).toEqual([]);
  });
});
