import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';

// A self-signed certificate for 127.0.0.1 and localhost, valid until 2126 (openssl req -x509).
const CERT = fileURLToPath(new URL('../support/tls/cert.pem', import.meta.url));
const KEY = fileURLToPath(new URL('../support/tls/key.pem', import.meta.url));

const body = randomBytesSeeded(3 * 1024 * 1024 + 17, 'https');
let server: https.Server;
let origin: string;
let dir: string;
let manifestPath: string;

beforeAll(async () => {
  server = https.createServer({ key: readFileSync(KEY), cert: readFileSync(CERT) }, (req, res) => {
    if (req.url !== '/m/a.bin') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length, etag: '"v1"' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = await tempDir('fragfetch-https-');
  manifestPath = `${dir}/manifest.json`;
  await writeFile(
    manifestPath,
    JSON.stringify({
      version: 1,
      baseUrls: [`${origin}/m/`],
      fragments: [{ path: 'a.bin', size: body.length, integrity: sriOf(body) }],
    }),
  );
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('fetch over https', () => {
  it('downloads and verifies through a CA given in NODE_EXTRA_CA_CERTS', async () => {
    const run = spawnCli(
      ['fetch', manifestPath, '--cache', `${dir}/cache-trusted`, '--json', '--no-progress'],
      {
        NODE_EXTRA_CA_CERTS: CERT,
      },
    );
    const { code, stdout } = await run.done;
    const report = JSON.parse(stdout) as {
      ok: boolean;
      fragments: { downloaded: number };
      bytes: { downloaded: number };
    };
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.fragments.downloaded).toBe(1);
    expect(report.bytes.downloaded).toBe(body.length);
  });

  it('refuses a certificate nobody vouches for, naming the TLS failure', async () => {
    const run = spawnCli([
      'fetch',
      manifestPath,
      '--cache',
      `${dir}/cache-untrusted`,
      '--json',
      '--retries',
      '0',
    ]);
    const { code, stdout } = await run.done;
    const report = JSON.parse(stdout) as {
      ok: boolean;
      failures: { error: { code: string; message: string } }[];
    };
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(report.failures[0]!.error.code).toBe('ETLS');
    expect(report.failures[0]!.error.message).toMatch(/self[- ]signed certificate/);
    expect(report.failures[0]!.error.message).toMatch(/--ca-file FILE or NODE_EXTRA_CA_CERTS/);
  });
});
