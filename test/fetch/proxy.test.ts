import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchManifest } from '../../src/fetch/engine.js';
import { basic } from '../../src/net/credentials.js';
import { loadTls } from '../../src/net/tls.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { makePki, type Pki } from '../support/pki.js';
import { startProxy } from '../support/proxy.js';
import { squidAvailable, startSquid } from '../support/squid.js';

const body = randomBytesSeeded(300_000, 'proxy');
const fragments = [{ path: 'a.bin', size: body.length, integrity: sriOf(body) }];
let pki: Pki;
let plain: Harness;
let secure: Harness;

beforeAll(async () => {
  pki = await makePki();
  plain = await harness();
  secure = await harness({ tls: { cert: pki.server.cert.pem, key: pki.server.key.pem } });
  plain.cdn.set('/m/a.bin', body);
  secure.cdn.set('/m/a.bin', body);
});
afterAll(async () => {
  await plain.close();
  await secure.close();
});

const tls = () => loadTls({ caFile: pki.ca.cert.path }, {});

describe('proxies', () => {
  it('sends plain http to a proxy that refuses CONNECT to its port as absolute-form requests, as curl does', async () => {
    // Debian's squid (when installed, as CI does) refuses CONNECT to any port but 443; else a proxy
    // of ours that refuses the same way.
    const squid = squidAvailable() ? await startSquid() : undefined;
    const ours = squid ? undefined : await startProxy({ refuseConnectPorts: [plain.cdn.port] });
    const proxy = squid?.url ?? ours!.url;
    try {
      const report = await fetchManifest(plain.manifest(fragments), {
        cacheDir: `${plain.cacheDir}/via-proxy`,
        network: { env: { HTTP_PROXY: proxy } },
        retries: 0,
      });
      expect(report.ok).toBe(true);
      const target = plain.cdn.url('/m/a.bin');
      if (squid) expect(await squid.accessLog()).toContain(`GET ${target}`);
      else expect(ours!.requests.map((r) => `${r.method} ${r.target}`)).toEqual([`GET ${target}`]);
      await plain.cdn.idle();
      expect(plain.cdn.requestsFor('/m/a.bin')).toHaveLength(1);
    } finally {
      await squid?.close();
      await ours?.close();
    }
  });

  it('tunnels https with CONNECT, and names a proxy that refuses it without retrying', async () => {
    const open = await startProxy();
    const refusing = await startProxy({ refuseConnectPorts: [secure.cdn.port] });
    try {
      const manifest = secure.manifest(fragments);
      const ok = await fetchManifest(manifest, {
        cacheDir: `${secure.cacheDir}/tunnel`,
        network: { tls: tls(), env: { HTTPS_PROXY: open.url } },
      });
      expect(ok.ok).toBe(true);
      expect(open.requests.map((r) => `${r.method} ${r.target}`)).toEqual([
        `CONNECT 127.0.0.1:${secure.cdn.port}`,
      ]);

      const refused = await fetchManifest(manifest, {
        cacheDir: `${secure.cacheDir}/refused`,
        network: { tls: tls(), env: { HTTPS_PROXY: refusing.url } },
        baseDelayMs: 1,
      });
      expect(refused.failures[0]!.error).toMatchObject({
        code: 'EPROXY',
        status: 403,
        message: `GET ${secure.cdn.url('/m/a.bin')}: proxy ${refusing.url} refused: HTTP 403`,
      });
      expect(refused.retries).toBe(0);
      expect(refusing.requests).toHaveLength(1);
    } finally {
      await open.close();
      await refusing.close();
    }
  });

  it('names a proxy that is down, and goes past it for NO_PROXY hosts', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = `http://127.0.0.1:${port}`;
    const manifest = plain.manifest(fragments);
    const failed = await fetchManifest(manifest, {
      cacheDir: `${plain.cacheDir}/down`,
      network: { env: { HTTP_PROXY: down } },
      retries: 0,
    });
    expect(failed.failures[0]!.error.message).toContain(`via proxy ${down} failed`);
    expect(failed.failures[0]!.error.message).toContain('ECONNREFUSED');

    const exempt = await fetchManifest(manifest, {
      cacheDir: `${plain.cacheDir}/exempt`,
      network: { env: { HTTP_PROXY: down, NO_PROXY: '127.0.0.1' } },
      retries: 0,
    });
    expect(exempt.ok).toBe(true);
  });

  it('gives Proxy-Authorization and a proxy URL login to the proxy only, never to the origin', async () => {
    const auth = { username: 'proxy-user', password: 'proxy-secret-pw' };
    const guarded = await startProxy({ auth });
    try {
      const manifest = plain.manifest(fragments);
      const header = await fetchManifest(manifest, {
        cacheDir: `${plain.cacheDir}/auth-header`,
        headers: { 'proxy-authorization': basic(auth.username, auth.password) },
        network: { env: { HTTP_PROXY: guarded.url } },
        retries: 0,
      });
      expect(header.ok).toBe(true);
      const login = guarded.url.replace('http://', `http://${auth.username}:${auth.password}@`);
      const inUrl = await fetchManifest(manifest, {
        cacheDir: `${plain.cacheDir}/auth-url`,
        network: { env: { HTTP_PROXY: login } },
        retries: 0,
      });
      expect(inUrl.ok).toBe(true);
      expect(guarded.requests.map((r) => r.status)).toEqual([200, 200]);
      await plain.cdn.idle();
      for (const request of plain.cdn.requests)
        expect(request.headers['proxy-authorization']).toBeUndefined();

      const wrong = await fetchManifest(manifest, {
        cacheDir: `${plain.cacheDir}/auth-wrong`,
        network: { env: { HTTP_PROXY: guarded.url.replace('http://', 'http://proxy-user:wrong-pw@') } },
        retries: 0,
      });
      expect(wrong.ok).toBe(false);
      expect(JSON.stringify(wrong)).not.toContain('wrong-pw');
    } finally {
      await guarded.close();
    }
  });
});
