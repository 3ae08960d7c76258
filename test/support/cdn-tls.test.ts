import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startCdn, type TestCdn } from './cdn.js';
import { randomBytesSeeded } from './fixtures.js';
import { makePki, type Pki } from './pki.js';

const SIZE = 300_000;
const data = randomBytesSeeded(SIZE, 'cdn-tls');

let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
});

async function get(agent: Agent, url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { dispatcher: agent, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

/** How a GET ended: 'ok' or the error code, after how many body bytes. */
async function outcome(agent: Agent, url: string): Promise<string> {
  let received = 0;
  try {
    const res = await request(url, { dispatcher: agent });
    for await (const chunk of res.body as AsyncIterable<Buffer>) received += chunk.length;
    return `ok after ${received}`;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
    return `${e.code ?? e.cause?.code ?? e.name} after ${received}`;
  }
}

for (const http2 of [false, true]) {
  describe(http2 ? 'test CDN on HTTP/2' : 'test CDN on HTTPS', () => {
    let cdn: TestCdn;
    let agent: Agent;
    beforeAll(async () => {
      cdn = await startCdn({ tls: { cert: pki.server.cert.pem, key: pki.server.key.pem }, http2 });
      agent = new Agent({ connect: { ca: pki.ca.cert.pem }, allowH2: true });
    });
    afterAll(async () => {
      await agent.close();
      await cdn.close();
    });
    afterEach(() => cdn.reset());

    it('serves objects and ranges over TLS to a client trusting the CA', async () => {
      expect(cdn.origin).toBe(`https://127.0.0.1:${cdn.port}`);
      cdn.set('/a.bin', data);
      const whole = await get(agent, cdn.url('/a.bin'));
      expect(whole.status).toBe(200);
      expect(whole.body.equals(data)).toBe(true);
      const part = await get(agent, cdn.url('/a.bin'), { range: 'bytes=10-19' });
      expect(part.status).toBe(206);
      expect(part.headers['content-range']).toBe(`bytes 10-19/${SIZE}`);
      expect(part.body.equals(data.subarray(10, 20))).toBe(true);
      const [first] = cdn.requestsFor('/a.bin');
      // ALPN decides: undici with allowH2 speaks h2 exactly where the server offers it.
      expect(first?.httpVersion).toBe(http2 ? '2.0' : '1.1');
      if (http2) expect(cdn.connections).toBe(1); // one session carries both requests
    });

    it('is refused by a client that does not know the CA, before any request', async () => {
      cdn.set('/a.bin', data);
      const stranger = new Agent({ allowH2: true });
      try {
        expect(await outcome(stranger, cdn.url('/a.bin'))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE after 0');
      } finally {
        await stranger.close();
      }
      expect(cdn.connections).toBe(1);
      expect(cdn.requests).toEqual([]);
    });

    it('applies status, delay and corrupt faults as on HTTP/1.1', async () => {
      cdn.set('/f.bin', data);
      cdn.fault('/f.bin', { kind: 'status', status: 503, headers: { 'retry-after': '1' } });
      const failed = await get(agent, cdn.url('/f.bin'));
      expect([failed.status, failed.headers['retry-after']]).toEqual([503, '1']);
      cdn.fault('/f.bin', { kind: 'corrupt', at: 7 });
      const bad = await get(agent, cdn.url('/f.bin'));
      expect(bad.body[7]).toBe(data[7]! ^ 0xff);
      cdn.fault('/f.bin', { kind: 'delay', ms: 1 });
      expect((await get(agent, cdn.url('/f.bin'))).status).toBe(200);
      await cdn.until(() => cdn.requestsFor('/f.bin').length === 3);
      expect(cdn.requestsFor('/f.bin').map((r) => r.fault)).toEqual(['status', 'corrupt', 'delay']);
    });

    it('cuts a response with reset and truncate after the bytes asked for', async () => {
      cdn.set('/cut.bin', data);
      cdn.fault('/cut.bin', { kind: 'reset', afterBytes: 1000 });
      const reset = await outcome(agent, cdn.url('/cut.bin'));
      cdn.fault('/cut.bin', { kind: 'truncate', afterBytes: 1000 });
      const truncate = await outcome(agent, cdn.url('/cut.bin'));
      const after = await outcome(agent, cdn.url('/cut.bin'));
      // HTTP/2 reports both as a stream error: RST_STREAM, and a body short of its Content-Length.
      const cut = http2 ? 'ERR_HTTP2_STREAM_ERROR' : 'UND_ERR_SOCKET';
      expect([reset, truncate, after]).toEqual([
        `${cut} after 1000`,
        `${cut} after 1000`,
        `ok after ${SIZE}`,
      ]);
      await cdn.until(() => cdn.requestsFor('/cut.bin').length === 3);
      const log = cdn.requestsFor('/cut.bin').map((r) => [r.fault, r.status, r.bytesSent, r.aborted]);
      expect(log).toEqual([
        ['reset', 200, 1000, true],
        ['truncate', 200, 1000, true],
        [undefined, 200, SIZE, false],
      ]);
    });

    it('stalls mid-body and resumes, and answers HEAD without a body', async () => {
      cdn.set('/st.bin', data);
      cdn.fault('/st.bin', { kind: 'stall', afterBytes: 5000, ms: 20 });
      expect(await outcome(agent, cdn.url('/st.bin'))).toBe(`ok after ${SIZE}`);
      const head = await request(cdn.url('/st.bin'), { dispatcher: agent, method: 'HEAD' });
      await head.body.dump();
      expect([head.statusCode, head.headers['content-length']]).toEqual([200, String(SIZE)]);
      await cdn.until(() => cdn.requestsFor('/st.bin').length === 2);
      expect(cdn.requestsFor('/st.bin').map((r) => [r.method, r.fault, r.bytesSent])).toEqual([
        ['GET', 'stall', SIZE],
        ['HEAD', undefined, 0],
      ]);
    });

    it('with requestCert, serves a client with a certificate from its CA and refuses one without', async () => {
      const mutual = await startCdn({
        tls: {
          cert: pki.server.cert.pem,
          key: pki.server.key.pem,
          ca: pki.clientCa.cert.pem,
          requestCert: true,
        },
        http2,
      });
      const ca = pki.ca.cert.pem;
      const withCert = new Agent({
        connect: { ca, cert: pki.client.cert.pem, key: pki.client.key.pem },
        allowH2: true,
      });
      try {
        mutual.set('/m.bin', data);
        expect(await outcome(withCert, mutual.url('/m.bin'))).toBe(`ok after ${SIZE}`);
        // TLS 1.3 finishes the client's handshake before the server's alert: undici on HTTP/1.1 has
        // written the request by then and reports the closed socket, its HTTP/2 session the alert.
        // (Found here: a second request on that HTTP/2 agent fails ERR_HTTP2_INVALID_SESSION and
        // agent.close() then hangs, so this agent asks once.)
        const refused = http2 ? 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' : 'UND_ERR_SOCKET';
        expect(await outcome(agent, mutual.url('/m.bin'))).toBe(`${refused} after 0`);
        await mutual.until(() => mutual.requests.length === 1);
        expect(mutual.requests.map((r) => r.clientCertificate)).toEqual(['fragfetch client']);
      } finally {
        await withCert.close();
        await mutual.close();
      }
    });
  });
}
