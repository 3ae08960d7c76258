import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, type ConnectionOptions } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './fixtures.js';
import { makePki, WRONG_HOST } from './pki.js';

/** The verification error of a TLS handshake with `server`, or 'ok'. */
async function handshake(server: Server, options: ConnectionOptions): Promise<string> {
  const { port } = server.address() as AddressInfo;
  const socket = connect({ host: '127.0.0.1', port, ...options });
  try {
    await once(socket, 'secureConnect');
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  } finally {
    socket.destroy();
  }
}

const servers: Server[] = [];
async function serve(options: Parameters<typeof createServer>[0]): Promise<Server> {
  const server = createServer(options, (_req, res) => res.end('ok'));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

afterAll(() => {
  for (const server of servers) server.close();
});

describe('makePki', () => {
  it('is made once per process, in a shared folder or the one asked for', async () => {
    expect(await makePki()).toBe(await makePki());
    const dir = await tempDir('fragfetch-pki-test-');
    try {
      const own = await makePki(dir);
      expect(own.ca.cert.path).toBe(path.join(dir, 'ca.pem'));
      expect(own.ca.cert.pem).not.toBe((await makePki()).ca.cert.pem);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('issues server certificates for the loopback names, signed by the CA', async () => {
    const pki = await makePki();
    const cert = new X509Certificate(pki.server.cert.pem);
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:localhost');
    expect(cert.checkIssued(new X509Certificate(pki.ca.cert.pem))).toBe(true);
    expect(cert.checkIssued(new X509Certificate(pki.otherCa.cert.pem))).toBe(false);
    expect(new X509Certificate(pki.expired.cert.pem).validTo).toBe('Jan  2 00:00:00 2020 GMT');
  });

  it('gives each bad certificate the error a client will see', async () => {
    const pki = await makePki();
    const ca = pki.ca.cert.pem;
    const as = (id: typeof pki.server) => serve({ cert: id.cert.pem, key: id.key.pem });
    expect(await handshake(await as(pki.server), { ca })).toBe('ok');
    expect(await handshake(await as(pki.server), { ca, servername: 'localhost' })).toBe('ok');
    expect(await handshake(await as(pki.server), {})).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await handshake(await as(pki.otherServer), { ca })).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await handshake(await as(pki.selfSigned), { ca })).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(await handshake(await as(pki.expired), { ca })).toBe('CERT_HAS_EXPIRED');
    expect(await handshake(await as(pki.wrongHost), { ca })).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect(await handshake(await as(pki.wrongHost), { ca, servername: WRONG_HOST })).toBe('ok');
  });

  it('makes a client certificate a mutual-TLS server accepts', async () => {
    const pki = await makePki();
    const server = await serve({
      cert: pki.server.cert.pem,
      key: pki.server.key.pem,
      ca: pki.clientCa.cert.pem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    const ca = pki.ca.cert.pem;
    const client = { cert: pki.client.cert.pem, key: pki.client.key.pem };
    const { port } = server.address() as AddressInfo;
    const socket = connect({ host: '127.0.0.1', port, ca, ...client });
    await once(socket, 'secureConnect');
    expect(socket.authorized).toBe(true);
    socket.destroy();
    // Without a certificate the handshake completes on TLS 1.3 and the server's alert comes after.
    const refused = connect({ host: '127.0.0.1', port, ca });
    refused.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [err] = (await once(refused, 'error').catch((e: unknown) => [e])) as [NodeJS.ErrnoException];
    expect(err.code).toMatch(/CERTIFICATE_REQUIRED|ECONNRESET/);
  });
});
