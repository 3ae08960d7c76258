import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCdn, type TestCdn } from './cdn.js';
import { parseRange } from './cdn-range.js';
import { randomBytesSeeded, sha256Hex, sriOf, tempDir, writeSeededFile } from './fixtures.js';

const SIZE = 100_000;
const data = randomBytesSeeded(SIZE, 'cdn-test');

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const res = await request(url, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

interface RawResult {
  head: string;
  body: Buffer;
  outcome: 'end' | 'error';
  code?: string;
}

/** One request on a fresh socket, read until the server ends or breaks the connection. */
function raw(cdn: TestCdn, p: string, extraHeaders = ''): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = connect(cdn.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = (outcome: 'end' | 'error', code?: string) => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      resolve({ head: all.subarray(0, split).toString(), body: all.subarray(split + 4), outcome, code });
    };
    socket.write(`GET ${p} HTTP/1.1\r\nHost: cdn\r\n${extraHeaders}\r\n`);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => done('end'));
    socket.on('error', (err: NodeJS.ErrnoException) => done('error', err.code));
  });
}

describe('parseRange', () => {
  it('follows RFC 9110 for single ranges', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ kind: 'partial', start: 50, end: 99 });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    for (const ignored of ['bytes=5-1', 'items=0-1', 'bytes=a-b', 'bytes=0-1,5-6', 'bytes=-']) {
      expect(parseRange(ignored, 100)).toEqual({ kind: 'whole' });
    }
  });
});

describe('test CDN', () => {
  let cdn: TestCdn;
  let dir: string;

  beforeAll(async () => {
    cdn = await startCdn();
    dir = await tempDir('fragfetch-cdn-test');
  });
  afterAll(async () => {
    await cdn.close();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => cdn.reset());

  it('serves GET and HEAD with static-file headers, and 404 for unknown paths', async () => {
    cdn.set('/models/a.bin', data);
    cdn.set('/models/m.json', Buffer.from('{"a":1}'));
    const res = await get(cdn.url('/models/a.bin'));
    expect(res.status).toBe(200);
    expect(res.body.equals(data)).toBe(true);
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['content-length']).toBe(String(SIZE));
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers.etag).toMatch(/^"[0-9a-f]+"$/);
    expect(new Date(String(res.headers['last-modified'])).getTime()).not.toBeNaN();

    const head = await get(cdn.url('/models/a.bin'), {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(SIZE));
    expect(head.body.length).toBe(0);

    expect((await get(cdn.url('/models/m.json'))).headers['content-type']).toBe('application/json');
    expect((await get(cdn.url('/nope'))).status).toBe(404);
    expect(cdn.url('x')).toBe(`${cdn.origin}/x`);
  });

  it('answers ranges with 206 and unsatisfiable ones with 416', async () => {
    cdn.set('/r.bin', data);
    const a = await get(cdn.url('/r.bin'), { range: 'bytes=10-19' });
    expect(a.status).toBe(206);
    expect(a.headers['content-range']).toBe(`bytes 10-19/${SIZE}`);
    expect(a.body.equals(data.subarray(10, 20))).toBe(true);

    const open = await get(cdn.url('/r.bin'), { range: `bytes=${SIZE - 5}-` });
    expect(open.body.equals(data.subarray(SIZE - 5))).toBe(true);
    const suffix = await get(cdn.url('/r.bin'), { range: 'bytes=-7' });
    expect(suffix.headers['content-range']).toBe(`bytes ${SIZE - 7}-${SIZE - 1}/${SIZE}`);
    expect(suffix.body.equals(data.subarray(SIZE - 7))).toBe(true);

    const bad = await get(cdn.url('/r.bin'), { range: `bytes=${SIZE}-` });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${SIZE}`);
    expect((await get(cdn.url('/r.bin'), { range: 'bytes=0-1,4-5' })).status).toBe(200);
  });

  it('honours If-Range by strong ETag and by exact date, and answers 200 whole otherwise', async () => {
    cdn.set('/ir.bin', data);
    const { headers } = await get(cdn.url('/ir.bin'), {}, 'HEAD');
    const etag = String(headers.etag);
    const lastModified = String(headers['last-modified']);
    const ranged = (ifRange: string) => get(cdn.url('/ir.bin'), { range: 'bytes=5-9', 'if-range': ifRange });

    expect((await ranged(etag)).status).toBe(206);
    expect((await ranged(lastModified)).status).toBe(206);
    const other = await ranged('"something-else"');
    expect(other.status).toBe(200);
    expect(other.body.equals(data)).toBe(true);
    expect((await ranged(`W/${etag}`)).status).toBe(200);
    expect((await ranged(new Date(Date.parse(lastModified) + 1000).toUTCString())).status).toBe(200);

    cdn.set('/weak.bin', data, { weakEtag: true });
    const weak = await get(cdn.url('/weak.bin'), {}, 'HEAD');
    expect(String(weak.headers.etag)).toMatch(/^W\/"/);
    const res = await get(cdn.url('/weak.bin'), {
      range: 'bytes=0-0',
      'if-range': String(weak.headers.etag),
    });
    expect(res.status).toBe(200);
  });

  it('answers 304 to matching If-None-Match and If-Modified-Since', async () => {
    cdn.set('/c.bin', data);
    const { headers } = await get(cdn.url('/c.bin'), {}, 'HEAD');
    const inm = await get(cdn.url('/c.bin'), { 'if-none-match': `"x", ${String(headers.etag)}` });
    expect(inm.status).toBe(304);
    expect(inm.headers.etag).toBe(headers.etag);
    expect(inm.body.length).toBe(0);
    const ims = await get(cdn.url('/c.bin'), { 'if-modified-since': String(headers['last-modified']) });
    expect(ims.status).toBe(304);
    expect((await get(cdn.url('/c.bin'), { 'if-none-match': '"other"' })).status).toBe(200);
    expect(
      (await get(cdn.url('/c.bin'), { 'if-modified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' })).status,
    ).toBe(200);
  });

  it('makes a new version on set() and on a change fault', async () => {
    cdn.set('/v.bin', data);
    const v1 = await get(cdn.url('/v.bin'), {}, 'HEAD');
    cdn.set('/v.bin', data.subarray(0, 1000));
    const v2 = await get(cdn.url('/v.bin'), {}, 'HEAD');
    expect(v2.headers.etag).not.toBe(v1.headers.etag);
    expect(Date.parse(String(v2.headers['last-modified']))).toBeGreaterThan(
      Date.parse(String(v1.headers['last-modified'])),
    );
    const stale = await get(cdn.url('/v.bin'), { range: 'bytes=0-9', 'if-range': String(v1.headers.etag) });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(1000);

    cdn.fault('/v.bin', { kind: 'change', body: Buffer.from('new body') });
    const v3 = await get(cdn.url('/v.bin'), { range: 'bytes=0-2', 'if-range': String(v2.headers.etag) });
    expect(v3.status).toBe(200);
    expect(v3.body.toString()).toBe('new body');

    cdn.set('/e.bin', data, { etag: 'fixed', lastModified: null });
    const fixed = await get(cdn.url('/e.bin'), {}, 'HEAD');
    expect(fixed.headers.etag).toBe('"fixed"');
    expect(fixed.headers['last-modified']).toBeUndefined();
  });

  it('reset: the client sees the connection reset after the first bytes', async () => {
    cdn.set('/f.bin', data);
    cdn.fault('/f.bin', { kind: 'reset', afterBytes: 1000 });
    const res = await raw(cdn, '/f.bin');
    expect(res.outcome).toBe('error');
    expect(res.code).toBe('ECONNRESET');
    expect(res.body.equals(data.subarray(0, 1000))).toBe(true);
    expect(res.head.toLowerCase()).toContain(`content-length: ${SIZE}`);
    await cdn.until(() => cdn.requestsFor('/f.bin').length === 1);
    const [record] = cdn.requestsFor('/f.bin');
    expect(record).toMatchObject({ status: 200, bytesSent: 1000, aborted: true, fault: 'reset' });
    await expect(get(cdn.url('/f.bin'))).resolves.toMatchObject({ status: 200 }); // consumed once
  });

  it('truncate: the client sees a clean close before Content-Length', async () => {
    cdn.set('/f.bin', data);
    cdn.fault('/f.bin', { kind: 'truncate', afterBytes: 1234 });
    const res = await raw(cdn, '/f.bin', 'Range: bytes=100-\r\n');
    expect(res.outcome).toBe('end');
    expect(res.head).toContain('206 Partial Content');
    expect(res.body.equals(data.subarray(100, 100 + 1234))).toBe(true);

    cdn.fault('/f.bin', { kind: 'truncate', afterBytes: 0 });
    await expect(get(cdn.url('/f.bin'))).rejects.toThrow();
    await cdn.until(() => cdn.requestsFor('/f.bin').length === 2);
    expect(cdn.requestsFor('/f.bin').map((r) => r.bytesSent)).toEqual([1234, 0]);
  });

  it('status: serves the injected status and headers, `times` in a row, HEAD included', async () => {
    cdn.set('/s.bin', data);
    cdn.fault('/s.bin', { kind: 'status', status: 429, headers: { 'retry-after': '1' } }, { times: 2 });
    const head = await get(cdn.url('/s.bin'), {}, 'HEAD');
    expect(head.status).toBe(429);
    const res = await get(cdn.url('/s.bin'));
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect((await get(cdn.url('/s.bin'))).status).toBe(200);
    cdn.fault('/s.bin', { kind: 'status', status: 503 });
    expect((await get(cdn.url('/s.bin'))).status).toBe(503);
  });

  it('leaves body-only faults queued for the next GET when a HEAD comes first', async () => {
    cdn.set('/h.bin', data);
    cdn.fault('/h.bin', { kind: 'corrupt' });
    expect((await get(cdn.url('/h.bin'), {}, 'HEAD')).status).toBe(200);
    const res = await get(cdn.url('/h.bin'));
    expect(res.body[0]).toBe(data[0]! ^ 0xff);
    expect(res.body.subarray(1).equals(data.subarray(1))).toBe(true);
  });

  it('stall: no bytes until the client gives up', async () => {
    cdn.set('/st.bin', data);
    cdn.fault('/st.bin', { kind: 'stall', afterBytes: 10 });
    const res = await request(cdn.url('/st.bin'), { bodyTimeout: 300 });
    expect(res.statusCode).toBe(200);
    await expect(res.body.arrayBuffer()).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' });
    await cdn.until(() => cdn.requestsFor('/st.bin').length === 1);
    expect(cdn.requestsFor('/st.bin')[0]).toMatchObject({ bytesSent: 10, aborted: true });

    cdn.fault('/st.bin', { kind: 'stall', afterBytes: 10, ms: 200 });
    const started = performance.now();
    const resumed = await get(cdn.url('/st.bin'));
    expect(resumed.body.equals(data)).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
  });

  it('ignoreRange: 200 with the whole body despite a Range', async () => {
    cdn.set('/ig.bin', data);
    cdn.fault('/ig.bin', { kind: 'ignoreRange' });
    const res = await get(cdn.url('/ig.bin'), { range: 'bytes=10-19' });
    expect(res.status).toBe(200);
    expect(res.body.equals(data)).toBe(true);
  });

  it('corrupt: flips the byte at an absolute offset within a range', async () => {
    cdn.set('/co.bin', data);
    cdn.fault('/co.bin', { kind: 'corrupt', at: 5000 });
    const res = await get(cdn.url('/co.bin'), { range: 'bytes=4000-5999' });
    const expected = data.subarray(4000, 6000);
    const differ = [...res.body.keys()].filter((i) => res.body[i] !== expected[i]);
    expect(differ).toEqual([1000]);
    expect((await get(cdn.url('/co.bin'))).body.equals(data)).toBe(true); // the object itself is intact
  });

  it('delay: waits before the headers', async () => {
    cdn.set('/d.bin', data);
    cdn.fault('/d.bin', { kind: 'delay', ms: 150 });
    const started = performance.now();
    expect((await get(cdn.url('/d.bin'))).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('logs requests with their validators, status and bytes, and reuses kept-alive connections', async () => {
    cdn.set('/log.bin', data);
    const agent = new Agent();
    try {
      for (const range of ['bytes=0-99', 'bytes=100-199', 'bytes=200-']) {
        const res = await request(cdn.url('/log.bin'), {
          dispatcher: agent,
          headers: { range, 'if-range': '"nope"', 'x-test': 'yes' },
        });
        await res.body.arrayBuffer();
        // undici frees the connection a tick after the body ends, before the next turn of the event
        // loop; a request sent at once opens another.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await cdn.until(() => cdn.requests.length === 3);
      expect(cdn.connections).toBe(1);
    } finally {
      await agent.close();
    }
    const [first] = cdn.requestsFor('/log.bin');
    expect(first).toMatchObject({
      method: 'GET',
      path: '/log.bin',
      range: 'bytes=0-99',
      ifRange: '"nope"',
      status: 200,
      bytesSent: SIZE,
      aborted: false,
    });
    expect(first?.headers['x-test']).toBe('yes');
    expect(cdn.requestsFor('/other')).toEqual([]);
  });

  it('serves file-backed objects and mounted directories with ranges', async () => {
    const file = path.join(dir, 'sub', 'big.bin');
    const written = await writeSeededFile(file, 3 * 1024 * 1024 + 17, 'big');
    const expected = randomBytesSeeded(written.size, 'big');
    expect(sha256Hex(expected)).toBe(written.sha256Hex);
    expect(sriOf(expected)).toBe(written.sri);

    cdn.set('/big.bin', { file });
    const whole = await get(cdn.url('/big.bin'));
    expect(whole.body.equals(expected)).toBe(true);
    const part = await get(cdn.url('/big.bin'), { range: 'bytes=1048570-2097160' });
    expect(part.status).toBe(206);
    expect(part.body.equals(expected.subarray(1048570, 2097161))).toBe(true);

    cdn.mount('/mirror', dir);
    const mounted = await get(cdn.url('/mirror/sub/big.bin'), { range: 'bytes=-100' });
    expect(mounted.status).toBe(206);
    expect(mounted.body.equals(expected.subarray(-100))).toBe(true);
    expect(mounted.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect((await get(cdn.url('/mirror/sub'))).status).toBe(404);
    expect((await get(`${cdn.origin}/mirror/%2e%2e/etc/passwd`)).status).toBe(404);
  });

  it('limits the rate of a response', async () => {
    cdn.set('/slow.bin', data.subarray(0, 64 * 1024), { limitRate: 128 * 1024 });
    const started = performance.now();
    const res = await get(cdn.url('/slow.bin'));
    expect(res.body.length).toBe(64 * 1024);
    expect(performance.now() - started).toBeGreaterThanOrEqual(350); // 500 ms at the nominal rate
  });

  it('counts the bytes of a response still in flight', async () => {
    cdn.set('/counted.bin', data.subarray(0, 64 * 1024), { limitRate: 128 * 1024 });
    const res = get(cdn.url('/counted.bin'));
    await cdn.until(() => cdn.bytesSent > 0);
    expect(cdn.requests).toEqual([]); // a paced response lasts ~500 ms: not closed yet
    expect(cdn.inFlight).toBe(1);
    expect((await res).body.length).toBe(64 * 1024);
    await cdn.idle();
    expect(cdn.requests).toHaveLength(1);
    expect(cdn.bytesSent).toBe(64 * 1024);
  });

  it('until: resolves as requests arrive, bytes leave and responses close; rejects when the server closes', async () => {
    const other = await startCdn();
    try {
      other.set('/u.bin', data.subarray(0, 64 * 1024), { limitRate: 128 * 1024 });
      const seen: string[] = [];
      const arrived = other
        .until(() => other.arrived === 1)
        .then(() => seen.push(`arrived ${other.inFlight}`));
      const sent = other.until(() => other.bytesSent > 0).then(() => seen.push('sent'));
      const closed = other.until(() => other.requests.length === 1).then(() => seen.push('closed'));
      const never = other.until(() => other.arrived === 2).catch((err: Error) => err.message);
      expect((await get(other.url('/u.bin'))).body.length).toBe(64 * 1024);
      await Promise.all([arrived, sent, closed]);
      expect(seen).toEqual(['arrived 1', 'sent', 'closed']);
      await other.until(() => true); // a condition that holds already: at once
      await other.close();
      expect(await never).toMatch(/closed before/);
    } finally {
      await other.close();
    }
  });

  it('makes a server without range support', async () => {
    const plain = await startCdn({ ranges: false, etags: false });
    try {
      plain.set('/p.bin', data);
      const res = await get(plain.url('/p.bin'), { range: 'bytes=0-9' });
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(SIZE);
      expect(res.headers['accept-ranges']).toBeUndefined();
      expect(res.headers.etag).toBeUndefined();
    } finally {
      await plain.close();
    }
  });

  it('closes promptly with a stalled response in flight', async () => {
    const other = await startCdn();
    other.set('/x.bin', data);
    other.fault('/x.bin', { kind: 'stall', afterBytes: 0 });
    const res = await request(other.url('/x.bin'));
    const body = res.body.arrayBuffer().catch((err: unknown) => err);
    // The stall lasts until the response is closed: close() returning at all is its not waiting for it.
    await other.close();
    expect(await body).toBeInstanceOf(Error);
    expect(other.requests[0]).toMatchObject({ aborted: true, bytesSent: 0 });
  });
});

describe('fixtures', () => {
  it('generates deterministic, seed-dependent bytes quickly', () => {
    expect(randomBytesSeeded(1000, 1).equals(randomBytesSeeded(1000, 1))).toBe(true);
    expect(randomBytesSeeded(1000, 1).equals(randomBytesSeeded(1000, 2))).toBe(false);
    expect(randomBytesSeeded(10, 1).equals(randomBytesSeeded(1000, 1).subarray(0, 10))).toBe(true);
    // CPU time, not wall time: the other processes of a loaded machine do not count against it.
    const started = process.cpuUsage();
    expect(randomBytesSeeded(64 * 1024 * 1024, 'fast').length).toBe(64 * 1024 * 1024);
    const { user, system } = process.cpuUsage(started);
    expect((user + system) / 1000).toBeLessThan(2000);
    expect(sriOf(Buffer.from(''))).toBe('sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
  });
});
