import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ErrorCode, type FragfetchError, isFragfetchError } from '../../src/errors.js';
import { loadManifest } from '../../src/manifest/load.js';

const MANIFEST = { version: 1, name: 'tiny', fragments: [{ path: 'dir/a b.bin', size: 3 }] };

async function failure(promise: Promise<unknown>, code: ErrorCode = 'EMANIFEST'): Promise<FragfetchError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isFragfetchError(error, code), String(error)).toBe(true);
  expect((error as Error).message).not.toContain('\n');
  return error as FragfetchError;
}

describe('loadManifest from a file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fragfetch-load-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a path and a file: URL', async () => {
    const path = join(dir, 'model.json');
    await writeFile(path, JSON.stringify({ ...MANIFEST, baseUrls: ['https://cdn.example.com/m'] }));
    const manifest = await loadManifest(path);
    expect(manifest.source).toBe(path);
    expect(manifest.fragments[0]!.urls).toEqual(['https://cdn.example.com/m/dir/a%20b.bin']);
    expect((await loadManifest(pathToFileURL(path).href)).name).toBe('tiny');
  });

  it('names a missing file', async () => {
    const path = join(dir, 'missing.json');
    expect((await failure(loadManifest(path))).message).toBe(`cannot read manifest ${path}: no such file`);
  });

  it('names a directory', async () => {
    expect((await failure(loadManifest(dir))).message).toBe(`cannot read manifest ${dir}: is a directory`);
  });

  it('rejects a local manifest without baseUrls or urls', async () => {
    const path = join(dir, 'model.json');
    await writeFile(path, JSON.stringify(MANIFEST));
    expect((await failure(loadManifest(path))).message).toBe(
      `${path}: fragments[0]: no url and no baseUrls to resolve "dir/a b.bin" against`,
    );
  });

  it('reports invalid JSON with its position', async () => {
    const path = join(dir, 'model.json');
    await writeFile(path, '{"version": 1,\n}');
    expect((await failure(loadManifest(path))).message).toBe(
      `${path}: not valid JSON (Expected double-quoted property name at position 15, line 2 column 1)`,
    );
  });

  it('refuses other URL schemes', async () => {
    expect((await failure(loadManifest('ftp://x.example/m.json'))).message).toBe(
      'cannot read manifest ftp://x.example/m.json: unsupported URL scheme "ftp:"',
    );
  });
});

describe('loadManifest over HTTP', () => {
  let server: Server;
  let origin: string;
  const seen: IncomingMessage[] = [];
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    '/models/tiny/manifest.json': (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(MANIFEST));
    },
    '/moved': (_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', '/models/tiny/manifest.json');
      res.end();
    },
    '/loop': (_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', '/loop');
      res.end();
    },
    '/hop': (req, res) => {
      const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n'));
      res.statusCode = 302;
      res.setHeader('location', `/hop?n=${n + 1}`);
      res.end();
    },
    '/broken.json': (_req, res) => res.end('{"version": 1'),
    '/huge.json': (_req, res) => {
      res.setHeader('content-length', String(65 * 1024 * 1024));
      res.flushHeaders();
      setTimeout(() => res.destroy(), 50);
    },
    '/hang.json': () => {
      // Never answers: the client's timeout has to end the request.
    },
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
      if (route) return route(req, res);
      res.statusCode = 404;
      res.end('not here');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('fetches the manifest and resolves paths against its URL', async () => {
    const url = `${origin}/models/tiny/manifest.json`;
    const manifest = await loadManifest(url, { headers: { authorization: 'Bearer t0k' } });
    expect(manifest.source).toBe(url);
    expect(manifest.fragments[0]!.urls).toEqual([`${origin}/models/tiny/dir/a%20b.bin`]);
    expect(seen.at(-1)!.headers.authorization).toBe('Bearer t0k');
    expect(seen.at(-1)!.headers['user-agent']).toBe('fragfetch/0.1');
  });

  it('follows a redirect but resolves against the URL it was given', async () => {
    const manifest = await loadManifest(`${origin}/moved`);
    expect(manifest.fragments[0]!.urls).toEqual([`${origin}/dir/a%20b.bin`]);
  });

  it('turns a 404 into EHTTP with the status: an outage, not an invalid manifest', async () => {
    const error = await failure(loadManifest(`${origin}/nope.json`), 'EHTTP');
    expect(error.message).toBe(`cannot fetch manifest ${origin}/nope.json: HTTP 404 Not Found`);
    expect(error.status).toBe(404);
  });

  it('gives up on a redirect loop', async () => {
    const error = await failure(loadManifest(`${origin}/loop`), 'EREDIRECT');
    expect(error.message).toBe(`cannot fetch manifest ${origin}/loop: redirect loop back to ${origin}/loop`);
  });

  it('gives up after ten redirections', async () => {
    const error = await failure(loadManifest(`${origin}/hop?n=0`), 'EREDIRECT');
    expect(error.message).toBe(`cannot fetch manifest ${origin}/hop?n=0: more than 10 redirections`);
    expect(error.status).toBe(302);
  });

  it('reports invalid JSON naming the URL', async () => {
    expect((await failure(loadManifest(`${origin}/broken.json`))).message).toBe(
      `${origin}/broken.json: not valid JSON (Expected ',' or '}' after property value at position 13, line 1 column 14)`,
    );
  });

  it('refuses a body larger than the cap without reading it', async () => {
    expect((await failure(loadManifest(`${origin}/huge.json`))).message).toBe(
      `cannot read manifest ${origin}/huge.json: larger than 64.0 MiB, not a manifest`,
    );
  });

  it('times out when no response comes, with ETIMEOUT', async () => {
    expect((await failure(loadManifest(`${origin}/hang.json`, { timeoutMs: 300 }), 'ETIMEOUT')).message).toBe(
      `cannot fetch manifest ${origin}/hang.json: timed out: no response headers within 300 ms`,
    );
  });

  it('reports a refused connection with ENETWORK', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect((await failure(loadManifest(`http://127.0.0.1:${port}/m.json`), 'ENETWORK')).message).toBe(
      `cannot fetch manifest http://127.0.0.1:${port}/m.json: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it('keeps credentials out of messages', async () => {
    const url = `http://user:secret@127.0.0.1:${origin.split(':')[2]}/nope.json`;
    const error = await failure(loadManifest(url), 'EHTTP');
    expect(error.message).not.toContain('secret');
    expect(error.url).not.toContain('secret');
  });
});
