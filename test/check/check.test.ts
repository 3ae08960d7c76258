import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CheckOptions, checkManifest } from '../../src/check/run.js';
import type { CheckReport, ProbeReport } from '../../src/check/types.js';
import type { Manifest } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { startCdn, type TestCdn } from '../support/cdn.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { closedPort, silentServer } from './support.js';

const KiB = 1024;
let cdn: TestCdn;
let others: { close(): Promise<void> }[];

beforeEach(async () => {
  cdn = await startCdn();
  others = [];
});
afterEach(async () => {
  await Promise.all([cdn.close(), ...others.map((o) => o.close())]);
});

const A = randomBytesSeeded(64 * KiB, 'a');
const MODEL = randomBytesSeeded(256 * KiB, 'model');

/** a.bin (whole), model.bin#4096 (a range), on every given base URL; objects set on `servers`. */
function manifest(
  baseUrls: string[],
  servers: TestCdn[] = [cdn],
  extra: Record<string, unknown>[] = [],
): Manifest {
  for (const server of servers) {
    server.set('/m/a.bin', A);
    server.set('/m/model.bin', MODEL);
  }
  return parseManifest(
    {
      version: 1,
      name: 'check-test',
      baseUrls,
      fragments: [
        { id: 'a', path: 'a.bin', size: A.length, integrity: sriOf(A), priority: 'critical' },
        {
          id: 'layer',
          path: 'model.bin',
          offset: 4096,
          size: 8192,
          integrity: sriOf(MODEL.subarray(4096, 4096 + 8192)),
        },
        ...extra,
      ],
    },
    'test.json',
  );
}

function check(m: Manifest, options: CheckOptions = {}): Promise<CheckReport> {
  return checkManifest(m, { baseDelayMs: 5, ...options });
}

function probe(report: CheckReport, id: string, endpoint?: string): ProbeReport {
  const found = report.probes.find((p) => p.id === id && (endpoint === undefined || p.endpoint === endpoint));
  if (found === undefined) throw new Error(`no probe of ${id}`);
  return found;
}

describe('check', () => {
  it('passes every fragment on two good endpoints, reading one byte per probe', async () => {
    const second = await startCdn();
    others.push(second);
    const report = await check(manifest([cdn.url('/m/'), second.url('/m/')], [cdn, second]));
    expect(report).toMatchObject({
      ok: true,
      fragments: { total: 2, probed: 2 },
      summary: { probes: 4, ok: 4, warnings: 0, failed: 0 },
      failures: [],
    });
    expect(report.endpoints.map((e) => [e.url, e.ok, e.failed])).toEqual([
      [cdn.url('/m/'), 2, 0],
      [second.url('/m/'), 2, 0],
    ]);
    for (const e of report.endpoints) expect(e.latency?.p95Ms).toBeGreaterThanOrEqual(e.latency!.medianMs);
    const layer = probe(report, 'layer', cdn.url('/m/'));
    expect(layer).toMatchObject({
      method: 'GET',
      status: 206,
      objectLength: MODEL.length,
      rangeSupported: true,
    });
    expect(layer.bytesRead).toBe(1);
    expect(layer.etag).toMatch(/^"/);
    expect(layer.lastModified).toMatch(/GMT$/);
    await cdn.idle();
    expect(cdn.requests.map((r) => [r.method, r.path, r.range]).sort()).toEqual([
      ['GET', '/m/a.bin', 'bytes=0-0'],
      ['GET', '/m/model.bin', 'bytes=4096-4096'],
    ]);
    for (const r of cdn.requests) expect(r.bytesSent).toBe(1);
  });

  it('fails a missing object with its status, and only that probe', async () => {
    const m = manifest([cdn.url('/m/')], [cdn], [{ id: 'gone', path: 'gone.bin', size: 10 }]);
    const report = await check(m);
    expect(report.ok).toBe(false);
    expect(report.summary).toMatchObject({ ok: 2, failed: 1 });
    expect(report.failures).toEqual([
      expect.objectContaining({ id: 'gone', code: 'EHTTP', status: 404, message: 'HTTP 404 Not Found' }),
    ]);
    expect(probe(report, 'gone').attempts).toBe(1); // a 404 is not retried
  });

  it('fails a size that contradicts the manifest', async () => {
    const m = manifest([cdn.url('/m/')], [cdn], [{ id: 'short', path: 'a.bin', size: A.length + 1 }]);
    const report = await check(m);
    expect(report.failures).toEqual([expect.objectContaining({ id: 'short', code: 'ESIZE' })]);
    expect(report.failures[0]!.message).toBe(
      `the object has ${A.length} bytes, the manifest says ${A.length + 1}`,
    );
  });

  it('warns when a server ignores ranges, reads only a few KiB of the 200, and fails with strict', async () => {
    const noRanges = await startCdn({ ranges: false });
    others.push(noRanges);
    const m = manifest([noRanges.url('/m/')], [noRanges]);
    const report = await check(m);
    expect(report.ok).toBe(true);
    expect(report.summary).toMatchObject({ ok: 0, warnings: 2, failed: 0 });
    const layer = probe(report, 'layer');
    expect(layer).toMatchObject({ status: 200, rangeSupported: false, objectLength: MODEL.length });
    expect(layer.findings).toEqual([expect.objectContaining({ severity: 'warning', code: 'WRANGE' })]);
    // One socket read at most beyond the 4 KiB peek, never the 256 KiB object.
    expect(layer.bytesRead).toBeLessThanOrEqual(64 * KiB);
    const strict = await check(m, { strict: true });
    expect(strict.ok).toBe(false);
    expect(strict.failures.map((f) => f.code)).toEqual(['WRANGE', 'WRANGE']);
  });

  it('fails fast on a closed port: one refused probe, the rest of the endpoint not sent', async () => {
    const port = await closedPort();
    const dead = `http://127.0.0.1:${port}/m/`;
    const extra = Array.from({ length: 20 }, (_, i) => ({ path: `x${i}.bin`, size: 1 }));
    for (let i = 0; i < 20; i++) cdn.set(`/m/x${i}.bin`, Buffer.from('x'));
    // Fast by count: one probe sent to the dead endpoint (its refusals retried), the other 21 not.
    const report = await check(manifest([cdn.url('/m/'), dead], [cdn], extra), { timeoutMs: 2000 });
    expect(report.ok).toBe(false);
    const endpoint = report.endpoints.find((e) => e.url === dead)!;
    expect(endpoint).toMatchObject({ probes: 22, failed: 22, unreachable: true, latency: null });
    const sent = report.probes.filter((p) => p.endpoint === dead && !p.skipped);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.findings[0]).toMatchObject({
      code: 'ENETWORK',
      message: 'unreachable: connection refused',
    });
    expect(sent[0]!.attempts).toBe(3); // a refusal is retried, quickly
    const skipped = report.probes.find((p) => p.endpoint === dead && p.skipped)!;
    expect(skipped.findings[0]!.message).toBe('not probed, endpoint down: unreachable: connection refused');
    expect(report.endpoints.find((e) => e.url === cdn.url('/m/'))).toMatchObject({ ok: 22, failed: 0 });
  });

  it('fails a TLS handshake with a readable reason, and does not retry it', async () => {
    // https:// to a plain-HTTP port: the handshake fails the way a broken TLS endpoint does.
    const report = await check(manifest([cdn.url('/m/').replace('http:', 'https:')]));
    const first = report.probes.find((p) => !p.skipped)!;
    expect(first.findings[0]).toMatchObject({ code: 'ETLS' });
    expect(first.findings[0]!.message).toMatch(/^unreachable: TLS error: [a-z ]+$/);
    expect(first.attempts).toBe(1);
    expect(report.probes.filter((p) => p.skipped)).toHaveLength(1);
  });

  it('times out on a server that never answers, within about one timeout for the whole endpoint', async () => {
    const silent = await silentServer();
    others.push(silent);
    const extra = Array.from({ length: 10 }, (_, i) => ({ path: `x${i}.bin`, size: 1 }));
    const report = await check(manifest([`${silent.origin}/m/`], [], extra), { timeoutMs: 500 });
    expect(report.summary).toMatchObject({ probes: 12, failed: 12 });
    // One timeout for the whole endpoint: one connection, one probe waited, the other 11 not sent.
    expect(silent.connections).toBe(1);
    expect(report.probes.filter((p) => p.skipped)).toHaveLength(11);
    const first = report.probes.find((p) => !p.skipped)!;
    expect(first.findings[0]).toMatchObject({ code: 'ETIMEOUT' });
    expect(first.findings[0]!.message).toMatch(/^unreachable: no response within 500 ?ms$/);
    expect(first.attempts).toBe(1); // a timeout is not retried
  });

  it('reports a body that stalls after the headers, without taking the endpoint for dead', async () => {
    cdn.fault('/m/a.bin', { kind: 'stall', afterBytes: 0 }, { times: Infinity });
    const report = await check(manifest([cdn.url('/m/')]), { timeoutMs: 500 });
    expect(probe(report, 'a').findings[0]).toMatchObject({ code: 'ESTALL' });
    expect(probe(report, 'layer').outcome).toBe('ok');
  });

  it('retries a 503 and passes when the next answer is good', async () => {
    cdn.fault('/m/a.bin', { kind: 'status', status: 503 });
    const report = await check(manifest([cdn.url('/m/')]));
    expect(probe(report, 'a')).toMatchObject({ outcome: 'ok', attempts: 2, status: 206 });
  });

  it('retries with a timeout of 0, which is no limit', async () => {
    cdn.fault('/m/a.bin', { kind: 'status', status: 503 });
    const report = await check(manifest([cdn.url('/m/')]), { timeoutMs: 0 });
    expect(probe(report, 'a')).toMatchObject({ outcome: 'ok', attempts: 2, status: 206 });
  });

  it('falls back to HEAD when the server refuses the GET', async () => {
    cdn.fault('/m/a.bin', { kind: 'status', status: 405 });
    const report = await check(manifest([cdn.url('/m/')]));
    expect(probe(report, 'a')).toMatchObject({
      outcome: 'ok',
      method: 'HEAD',
      status: 200,
      objectLength: A.length,
      rangeSupported: true,
    });
  });

  it('warns when mirrors disagree on the validators', async () => {
    const second = await startCdn();
    const third = await startCdn({ etags: false });
    others.push(second, third);
    const m = manifest([cdn.url('/m/'), second.url('/m/'), third.url('/m/')], [cdn, second, third]);
    second.set('/m/model.bin', MODEL, { etag: 'other-version' });
    third.set('/m/a.bin', A, { lastModified: new Date('2020-01-01T00:00:00Z') });
    const report = await check(m);
    expect(report.ok).toBe(true);
    const warned = report.probes.filter((p) => p.outcome === 'warning');
    expect(warned.map((p) => [p.id, p.endpoint])).toEqual([
      ['a', third.url('/m/')],
      ['layer', second.url('/m/')],
    ]);
    expect(warned[1]!.findings[0]).toMatchObject({ code: 'WVALIDATORS' });
    expect(warned[1]!.findings[0]!.message).toContain('ETag "other-version" here');
    expect(warned[0]!.findings[0]!.message).toContain('Last-Modified Wed, 01 Jan 2020 00:00:00 GMT here');
  });

  it('--sample probes that many fragments, every critical one included', async () => {
    const extra = Array.from({ length: 30 }, (_, i) => ({
      path: `x${i}.bin`,
      size: 1,
      priority: ['high', 'normal', 'low'][i % 3],
    }));
    for (let i = 0; i < 30; i++) cdn.set(`/m/x${i}.bin`, Buffer.from('x'));
    const report = await check(manifest([cdn.url('/m/')], [cdn], extra), { sample: 7 });
    expect(report.fragments).toEqual({ total: 32, probed: 7 });
    expect(report.probes.map((p) => p.priority)).toEqual([
      'critical',
      'high',
      'high',
      'normal',
      'normal',
      'low',
      'low',
    ]);
    await cdn.idle();
    expect(cdn.requests).toHaveLength(7);
  });

  it('--deep downloads each fragment, verifies it, and fails a corrupt byte', async () => {
    cdn.fault('/m/model.bin', { kind: 'corrupt', at: 5000 }, { times: Infinity });
    const report = await check(manifest([cdn.url('/m/')]), { deep: true });
    expect(report.deep).toBe(true);
    expect(probe(report, 'a')).toMatchObject({ outcome: 'ok', bytesRead: A.length, status: 206 });
    const layer = probe(report, 'layer');
    expect(layer.bytesRead).toBe(8192);
    expect(layer.findings).toEqual([expect.objectContaining({ code: 'EINTEGRITY', severity: 'failure' })]);
    await cdn.idle();
    expect(cdn.requestsFor('/m/model.bin').map((r) => r.range)).toEqual(['bytes=4096-12287']);
  });

  it('--deep cuts a fragment out of a server that ignores ranges', async () => {
    const noRanges = await startCdn({ ranges: false });
    others.push(noRanges);
    const report = await check(manifest([noRanges.url('/m/')], [noRanges]), { deep: true });
    expect(report.summary).toMatchObject({ failed: 0, warnings: 2 });
    expect(probe(report, 'layer').findings.map((f) => f.code)).toEqual(['WRANGE']);
  });

  it('stops at once when aborted, and says so', async () => {
    const silent = await silentServer();
    others.push(silent);
    const controller = new AbortController();
    // Aborted while its first probe waits; with no time limit, nothing but the abort can end the check.
    void silent.connected().then(() => controller.abort(new Error('stop')));
    const report = await check(manifest([`${silent.origin}/m/`], []), {
      signal: controller.signal,
      timeoutMs: 0,
    });
    expect(report).toMatchObject({ ok: false, interrupted: true });
  });
});
