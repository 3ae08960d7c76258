import cacache from 'cacache';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchManifest } from '../../src/fetch/engine.js';
import type { NetworkOptions } from '../../src/net/http.js';
import { loadTls } from '../../src/net/tls.js';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { type Identity, makePki, type Pki } from '../support/pki.js';

const body = randomBytesSeeded(600_000, 'tls');
let pki: Pki;
beforeAll(async () => {
  pki = await makePki();
});

/** A test CDN on TLS with `identity` as its certificate, serving one object. */
async function tlsCdn(identity: Identity, extra: { http2?: boolean; requestCert?: boolean } = {}) {
  const h = await harness({
    tls: {
      cert: identity.cert.pem,
      key: identity.key.pem,
      ...(extra.requestCert ? { ca: pki.clientCa.cert.pem, requestCert: true } : {}),
    },
    ...(extra.http2 ? { http2: true } : {}),
  });
  h.cdn.set('/m/a.bin', body);
  return h;
}

const fragments = [{ path: 'a.bin', size: body.length, integrity: sriOf(body) }];
const trusted = (): NetworkOptions => ({ tls: loadTls({ caFile: pki.ca.cert.path }, {}), env: {} });

describe('fetch over TLS', () => {
  let h: Harness | undefined;
  afterAll(async () => h?.close());

  it('trusts a CA given by --ca-file, besides the default ones', async () => {
    h = await tlsCdn(pki.server);
    const report = await fetchManifest(h.manifest(fragments), { cacheDir: h.cacheDir, network: trusted() });
    expect(report.ok).toBe(true);
    expect((await cacache.get(h.cacheDir, Object.keys(await cacache.ls(h.cacheDir))[0]!)).data).toEqual(body);
    await h.cdn.idle();
    expect(h.cdn.requests[0]!.httpVersion).toBe('1.1');
    await h.close();
    h = undefined;
  });

  it('names an unknown CA, an expired certificate and a wrong host in one line each, and retries none', async () => {
    for (const [identity, cause] of [
      [
        pki.otherServer,
        /TLS: certificate signed by an unknown CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); trust its CA with --ca-file FILE or NODE_EXTRA_CA_CERTS=FILE/,
      ],
      [pki.selfSigned, /TLS: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)/],
      [pki.expired, /TLS: certificate expired \(CERT_HAS_EXPIRED\)/],
      [
        pki.wrongHost,
        /TLS: certificate is not for this host name \(ERR_TLS_CERT_ALTNAME_INVALID\); check the URL/,
      ],
    ] as const) {
      h = await tlsCdn(identity);
      const report = await fetchManifest(h.manifest(fragments), {
        cacheDir: h.cacheDir,
        network: trusted(),
        baseDelayMs: 1,
      });
      expect(report.ok).toBe(false);
      expect(report.failures[0]!.error.code).toBe('ETLS');
      expect(report.failures[0]!.error.message).toMatch(cause);
      expect(report.failures[0]!.error.message).not.toContain('\n');
      // One handshake, no request and no retry: the same certificate fails the same way.
      expect(report.retries).toBe(0);
      expect(h.cdn.connections).toBe(1);
      expect(h.cdn.requests).toHaveLength(0);
      await h.close();
      h = undefined;
    }
  });

  it('speaks HTTP/2 with --http2 where the server offers it, and HTTP/1.1 without', async () => {
    h = await tlsCdn(pki.server, { http2: true });
    const manifest = h.manifest(fragments);
    const two = await fetchManifest(manifest, {
      cacheDir: h.cacheDir,
      network: { ...trusted(), http2: true },
      chunkSize: 128 * 1024,
      splitThreshold: 256 * 1024,
    });
    expect(two.ok).toBe(true);
    await h.cdn.idle();
    expect(h.cdn.requests.length).toBeGreaterThan(1);
    expect(new Set(h.cdn.requests.map((r) => r.httpVersion))).toEqual(new Set(['2.0']));
    // The ranges share one connection: the first request went alone, the others as its streams.
    expect(h.cdn.connections).toBe(1);
    // Its windows let a far server keep the link full: undici's defaults (256 KiB a stream, 512 KiB
    // the connection) allow 13 MB/s to an edge 40 ms away.
    const windows = h.cdn.requests.at(-1)?.clientWindows;
    expect(windows?.stream).toBe(4 * 2 ** 20);
    expect(windows?.connection).toBeGreaterThan(16 * 2 ** 20);
    h.cdn.reset();
    await cacache.rm.all(h.cacheDir);
    const one = await fetchManifest(manifest, { cacheDir: h.cacheDir, network: trusted() });
    expect(one.ok).toBe(true);
    await h.cdn.idle();
    expect(new Set(h.cdn.requests.map((r) => r.httpVersion))).toEqual(new Set(['1.1']));
    await h.close();
    h = undefined;
  });

  it('presents a client certificate for mutual TLS, and is refused without one', async () => {
    h = await tlsCdn(pki.server, { requestCert: true });
    const manifest = h.manifest(fragments);
    const refused = await fetchManifest(manifest, {
      cacheDir: h.cacheDir,
      network: trusted(),
      baseDelayMs: 1,
    });
    // TLS 1.3 refuses a missing client certificate after the handshake, by an alert undici does not
    // surface before the connection's end: what the user reads is the close.
    expect(refused.failures[0]!.error).toMatchObject({
      code: 'ENETWORK',
      message: expect.stringMatching(/the server closed the connection/),
    });
    expect(h.cdn.requests).toHaveLength(0);
    const tls = loadTls(
      { caFile: pki.ca.cert.path, certFile: pki.client.cert.path, keyFile: pki.client.key.path },
      {},
    );
    const accepted = await fetchManifest(manifest, { cacheDir: h.cacheDir, network: { tls, env: {} } });
    expect(accepted.ok).toBe(true);
    await h.cdn.idle();
    expect(h.cdn.requests.every((r) => r.clientCertificate !== undefined)).toBe(true);
    await h.close();
    h = undefined;
  });
});

describe('TLS options of the CLI', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await tlsCdn(pki.otherServer);
  });
  afterAll(async () => h.close());

  const run = async (args: string[], env: Record<string, string> = {}) => {
    const manifest = await h.manifestFile(fragments);
    const cache = `${h.cacheDir}-${Math.random().toString(36).slice(2)}`;
    const { code, stdout, stderr } = await spawnCli(
      ['fetch', manifest, '--cache', cache, '--json', ...args],
      env,
    ).done;
    return { code, report: JSON.parse(stdout) as { ok: boolean; warnings?: string[] }, stderr };
  };

  it('verifies nothing with --insecure, and says so on stderr and in --json', async () => {
    const { code, report, stderr } = await run(['--insecure']);
    expect(code).toBe(0);
    expect(report.warnings).toEqual(['TLS certificates are not verified (--insecure)']);
    expect(stderr).toContain('fragfetch: warning: TLS certificates are not verified (--insecure)');
  });

  it('reads FRAGFETCH_CA_FILE as --ca-file, and NODE_EXTRA_CA_CERTS beside it', async () => {
    expect((await run([], { FRAGFETCH_CA_FILE: pki.otherCa.cert.path })).code).toBe(0);
    // Node applies NODE_EXTRA_CA_CERTS to its own store only, not to one a CA file is added to: it must still count.
    const both = await run(['--ca-file', pki.ca.cert.path], { NODE_EXTRA_CA_CERTS: pki.otherCa.cert.path });
    expect(both.code).toBe(0);
    const neither = await run(['--ca-file', pki.ca.cert.path, '--retries', '0']);
    expect(neither.code).toBe(1);
  });

  it('refuses an unreadable CA file, and --cert without --key, as usage errors', async () => {
    const manifest = await h.manifestFile(fragments);
    const missing = await spawnCli([
      'fetch',
      manifest,
      '--cache',
      h.cacheDir,
      '--ca-file',
      '/nonexistent.pem',
    ]).done;
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('fragfetch: cannot read CA file /nonexistent.pem: ENOENT');
    const half = await spawnCli(['fetch', manifest, '--cache', h.cacheDir, '--cert', pki.client.cert.path])
      .done;
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--cert and --key go together');
  });
});
