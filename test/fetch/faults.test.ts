import cacache from 'cacache';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/cache/store.js';
import { type FetchOptions, fetchManifest } from '../../src/fetch/engine.js';
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

/** Fast retries, with every backoff the engine chose captured instead of slept through in full. */
function options(extra: Partial<FetchOptions> = {}): FetchOptions & { delays: number[] } {
  const delays: number[] = [];
  return {
    cacheDir: h.cacheDir,
    baseDelayMs: 5,
    delays,
    observer: { retry: (_f, _e, ms) => delays.push(ms) },
    ...extra,
  };
}

async function content(fragment: Parameters<typeof cacheKey>[0]): Promise<Buffer> {
  return (await cacache.get(h.cacheDir, cacheKey(fragment))).data;
}

function one(body: Buffer, extra: Record<string, unknown> = {}) {
  h.cdn.set('/m/a.bin', body);
  return h.manifest([{ path: 'a.bin', size: body.length, integrity: sriOf(body), ...extra }]);
}

describe('fetch under faults', () => {
  it('resumes after a connection reset mid-body, asking only for the rest', async () => {
    const body = randomBytesSeeded(2 * MiB, 1);
    const manifest = one(body);
    h.cdn.fault('/m/a.bin', { kind: 'reset', afterBytes: 700_000 });
    const report = await fetchManifest(manifest, options());
    await h.cdn.idle();
    expect(report.ok).toBe(true);
    expect(report.retries).toBe(1);
    const [first, second] = h.cdn.requestsFor('/m/a.bin');
    expect(first?.aborted).toBe(true);
    const resumedAt = Number(/bytes=(\d+)-/.exec(second?.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(700_000);
    // Within a run no If-Range: the answer's validators are compared with the first answer's.
    expect(second?.ifRange).toBeUndefined();
    expect((await content(manifest.fragments[0]!)).equals(body)).toBe(true);
  });

  it('resumes after a truncated body', async () => {
    const body = randomBytesSeeded(MiB, 2);
    const manifest = one(body);
    h.cdn.fault('/m/a.bin', { kind: 'truncate', afterBytes: 600_000 });
    const report = await fetchManifest(manifest, options());
    await h.cdn.idle();
    expect(report.ok).toBe(true);
    expect(h.cdn.requestsFor('/m/a.bin')[1]?.range).toMatch(/^bytes=\d+-1048575$/);
    expect((await content(manifest.fragments[0]!)).equals(body)).toBe(true);
  });

  it('resumes a small object cut short, whose body went straight into memory, from where it stopped', async () => {
    const body = randomBytesSeeded(200_000, 'small-cut');
    const manifest = one(body);
    h.cdn.fault('/m/a.bin', { kind: 'truncate', afterBytes: 70_000 });
    const report = await fetchManifest(manifest, options());
    await h.cdn.idle();
    expect(report.ok).toBe(true);
    expect(report.bytes.downloaded).toBe(body.length);
    const requests = h.cdn.requestsFor('/m/a.bin');
    expect(requests).toHaveLength(2);
    // Whatever part of the first body had arrived is kept: the second asks only for the rest.
    expect(requests[1]?.range).toMatch(/^bytes=[1-9]\d*-199999$/);
    expect((await content(manifest.fragments[0]!)).equals(body)).toBe(true);
  });

  it('retries 503s with growing backoff', async () => {
    const body = randomBytesSeeded(10_000, 3);
    const manifest = one(body);
    h.cdn.fault('/m/a.bin', { kind: 'status', status: 503 }, { times: 3 });
    const opts = options({ random: () => 0.999 });
    const report = await fetchManifest(manifest, opts);
    expect(report.ok).toBe(true);
    expect(report.retries).toBe(3);
    expect(opts.delays).toEqual([4, 9, 19]);
  });

  it('honours Retry-After on 429', async () => {
    const body = randomBytesSeeded(10_000, 4);
    const manifest = one(body);
    h.cdn.fault('/m/a.bin', { kind: 'status', status: 429, headers: { 'retry-after': '1' } });
    const opts = options();
    const report = await fetchManifest(manifest, opts);
    expect(report.ok).toBe(true);
    expect(opts.delays).toEqual([1000]);
  });

  it('gives up after the retry budget with the last error', async () => {
    const manifest = one(randomBytesSeeded(1000, 5));
    h.cdn.fault('/m/a.bin', { kind: 'status', status: 500 }, { times: Number.POSITIVE_INFINITY });
    const report = await fetchManifest(manifest, options({ retries: 2 }));
    await h.cdn.idle();
    expect(report.ok).toBe(false);
    expect(h.cdn.requestsFor('/m/a.bin')).toHaveLength(3);
    expect(report.failures[0]?.error).toMatchObject({ code: 'EHTTP', status: 500 });
  });

  it('aborts a stalled request and resumes it', async () => {
    const body = randomBytesSeeded(MiB, 6);
    const manifest = one(body);
    // The stall lasts until the client gives up: only a timer can end it, and the retry says which.
    h.cdn.fault('/m/a.bin', { kind: 'stall', afterBytes: 300_000 });
    const errors: string[] = [];
    const report = await fetchManifest(manifest, {
      ...options({ stallTimeoutMs: 500 }),
      observer: { retry: (_f, error) => errors.push((error as Error).message) },
    });
    expect(report.ok).toBe(true);
    // The stall timeout of 500 ms, not the request timeout or the speed floor (30 s each).
    expect(errors).toEqual([expect.stringMatching(/ stalled: no data for 500 ms within the body$/)]);
    expect(report.retries).toBe(1);
    expect((await content(manifest.fragments[0]!)).equals(body)).toBe(true);
  });

  it('works with a server that ignores Range, for a split object', async () => {
    const body = randomBytesSeeded(3 * MiB, 7);
    const manifest = one(body);
    h.cdn.fault('/m/a.bin', { kind: 'ignoreRange' }, { times: Number.POSITIVE_INFINITY });
    const report = await fetchManifest(manifest, options({ splitThreshold: MiB, chunkSize: MiB }));
    await h.cdn.idle();
    expect(report.ok).toBe(true);
    const last = h.cdn.requestsFor('/m/a.bin').at(-1);
    expect(last?.range).toBeUndefined();
    expect((await content(manifest.fragments[0]!)).equals(body)).toBe(true);
  });

  it('cuts a byte-range fragment out of a 200 when Range is ignored', async () => {
    const body = randomBytesSeeded(500_000, 8);
    h.cdn.set('/m/model.bin', body);
    const slice = body.subarray(100_000, 150_000);
    const manifest = h.manifest([
      { path: 'model.bin', offset: 100_000, size: 50_000, integrity: sriOf(slice) },
    ]);
    h.cdn.fault('/m/model.bin', { kind: 'ignoreRange' }, { times: Number.POSITIVE_INFINITY });
    const report = await fetchManifest(manifest, options());
    expect(report.ok).toBe(true);
    expect((await content(manifest.fragments[0]!)).equals(slice)).toBe(true);
  });

  it('never appends to a partial file when a resumed request gets the whole body', async () => {
    const body = randomBytesSeeded(MiB, 9);
    const manifest = one(body);
    h.cdn.fault('/m/a.bin', { kind: 'reset', afterBytes: 400_000 });
    h.cdn.fault('/m/a.bin', { kind: 'ignoreRange' });
    const report = await fetchManifest(manifest, options());
    expect(report.ok).toBe(true);
    expect((await content(manifest.fragments[0]!)).equals(body)).toBe(true);
  });

  it('discards corrupt bytes, retries from scratch once, and caches the good copy', async () => {
    const body = randomBytesSeeded(200_000, 10);
    const manifest = one(body);
    h.cdn.fault('/m/a.bin', { kind: 'corrupt', at: 1234 });
    const report = await fetchManifest(manifest, options());
    await h.cdn.idle();
    expect(report.ok).toBe(true);
    expect(h.cdn.requestsFor('/m/a.bin')).toHaveLength(2);
    // The wrong answer is counted once, as a request and a retry, however its bytes were checked.
    expect(report.retries).toBe(1);
    expect(report.endpoints[0]).toMatchObject({ requests: 2, bytes: 2 * body.length });
    expect((await content(manifest.fragments[0]!)).equals(body)).toBe(true);
  });

  it('fails with EINTEGRITY when the bytes stay wrong, and caches nothing', async () => {
    const body = randomBytesSeeded(200_000, 11);
    const manifest = one(body);
    h.cdn.fault('/m/a.bin', { kind: 'corrupt', at: 5 }, { times: Number.POSITIVE_INFINITY });
    const report = await fetchManifest(manifest, options());
    await h.cdn.idle();
    expect(report.failures[0]?.error.code).toBe('EINTEGRITY');
    // One clean retry from scratch, then the failure: no more requests than that.
    expect(h.cdn.requestsFor('/m/a.bin')).toHaveLength(2);
    expect(report.retries).toBe(1);
    expect(await cacache.ls(h.cacheDir)).toEqual({});
    const info = await cacache.verify(h.cacheDir);
    expect(info.verifiedContent).toBe(0);
  });

  it('restarts an object that changes during a split download instead of splicing versions', async () => {
    const v1 = randomBytesSeeded(4 * MiB, 12);
    const v2 = randomBytesSeeded(4 * MiB, 13);
    h.cdn.set('/m/a.bin', v1);
    const manifest = h.manifest([{ path: 'a.bin', size: v1.length }]);
    // The third request sees a new version: the object changed under the download.
    h.cdn.fault('/m/a.bin', { kind: 'delay', ms: 1 }, { times: 2 });
    h.cdn.fault('/m/a.bin', { kind: 'change', body: v2 });
    const report = await fetchManifest(
      manifest,
      options({ splitThreshold: MiB, chunkSize: MiB, maxConnectionsPerObject: 1 }),
    );
    expect(report.ok).toBe(true);
    expect(report.retries).toBeGreaterThanOrEqual(1);
    expect((await content(manifest.fragments[0]!)).equals(v2)).toBe(true);
  });
});
