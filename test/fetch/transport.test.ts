import cacache from 'cacache';
import { once } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/cache/store.js';
import { fetchManifest } from '../../src/fetch/engine.js';
import { HttpClient } from '../../src/net/http.js';
import { proxyFor } from '../../src/net/proxy-env.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

const KiB = 1024;
let h: Harness;

beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const client = (env: Record<string, string> = {}) =>
  new HttpClient({ timeoutMs: 2000, stallTimeoutMs: 2000, headers: {}, env });

async function text(response: { body: AsyncIterable<Buffer> }): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

const sockets = new WeakMap<net.Server, Set<net.Socket>>();

async function listen(server: net.Server): Promise<string> {
  const open = new Set<net.Socket>();
  sockets.set(server, open);
  server.on('connection', (socket: net.Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function shut(server: net.Server): Promise<void> {
  for (const socket of sockets.get(server) ?? []) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
}

describe('proxy variables', () => {
  const target = (url: string) => proxyFor(new URL(url), env);
  let env: Record<string, string> = {};

  it('uses HTTP_PROXY for http and HTTPS_PROXY, else HTTP_PROXY, for https', () => {
    env = { HTTP_PROXY: 'http://p:1' };
    expect(target('http://cdn.example.com/a')).toBe('http://p:1');
    expect(target('https://cdn.example.com/a')).toBe('http://p:1');
    env = { http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:1', HTTPS_PROXY: 'http://s:1' };
    expect(target('http://cdn.example.com/a')).toBe('http://lower:1');
    expect(target('https://cdn.example.com/a')).toBe('http://s:1');
    env = {};
    expect(target('http://cdn.example.com/a')).toBeUndefined();
  });

  it('exempts NO_PROXY hosts, their subdomains, host:port entries and *', () => {
    env = { HTTP_PROXY: 'http://p:1', NO_PROXY: 'example.com, .internal,*.corp:8080 [::1]' };
    expect(target('http://example.com/a')).toBeUndefined();
    expect(target('http://cdn.example.com/a')).toBeUndefined();
    expect(target('http://notexample.com/a')).toBe('http://p:1');
    expect(target('http://a.internal/a')).toBeUndefined();
    expect(target('http://x.corp:8080/a')).toBeUndefined();
    expect(target('http://x.corp/a')).toBe('http://p:1');
    expect(target('http://[::1]:3000/a')).toBeUndefined();
    env = { HTTP_PROXY: 'http://p:1', no_proxy: '*' };
    expect(target('http://anything/a')).toBeUndefined();
  });
});

describe('HTTP transport', () => {
  it('sends requests through the proxy the environment names, and past it for NO_PROXY hosts', async () => {
    h.cdn.set('/m/a.txt', Buffer.from('through the proxy'));
    const seen: string[] = [];
    // A forward proxy: absolute-form request targets, relayed to the origin.
    const proxy = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      const upstream = http.request(req.url!, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    // Only an https: target is tunnelled; a plain http: one is an absolute-form request, as curl sends.
    proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      seen.push(`CONNECT ${req.url}`);
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    const proxyUrl = await listen(proxy);
    try {
      const viaProxy = client({ HTTP_PROXY: proxyUrl });
      const response = await viaProxy.request('GET', h.cdn.url('/m/a.txt'), {});
      expect(response.status).toBe(200);
      expect(await text(response)).toBe('through the proxy');
      expect(seen).toEqual([h.cdn.url('/m/a.txt')]);
      await h.cdn.idle();
      expect(h.cdn.requestsFor('/m/a.txt')).toHaveLength(1);
      await viaProxy.close();

      const exempt = client({ HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' });
      expect(await text(await exempt.request('GET', h.cdn.url('/m/a.txt'), {}))).toBe('through the proxy');
      expect(seen).toHaveLength(1);
      await h.cdn.idle();
      expect(h.cdn.requestsFor('/m/a.txt')).toHaveLength(2);
      await exempt.close();
    } finally {
      await shut(proxy);
    }
  });

  it('keeps connections alive across requests', async () => {
    h.cdn.set('/m/a.txt', Buffer.from('again'));
    const http = client();
    for (let i = 0; i < 5; i++)
      expect(await text(await http.request('GET', h.cdn.url('/m/a.txt'), {}))).toBe('again');
    expect(h.cdn.connections).toBe(1);
    await http.close();
  });

  it('sends a request again at once when a kept-alive connection was closed under it', async () => {
    // Answers the first request of each connection, then resets the connection on its second.
    const perSocket = new Map<net.Socket, number>();
    const server = net.createServer((socket) => {
      socket.on('data', () => {
        const n = (perSocket.get(socket) ?? 0) + 1;
        perSocket.set(socket, n);
        if (n > 1) socket.resetAndDestroy();
        else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
      });
      socket.on('error', () => {});
    });
    const origin = await listen(server);
    const http = client();
    try {
      expect(await text(await http.request('GET', `${origin}/a`, {}))).toBe('ok');
      expect(await text(await http.request('GET', `${origin}/a`, {}))).toBe('ok');
      expect(perSocket.size).toBe(2);
    } finally {
      await http.close();
      await shut(server);
    }
  });

  it('times out a server that accepts but never answers, as ETIMEOUT', async () => {
    const server = net.createServer(() => {});
    const origin = await listen(server);
    // No stall limit: the server never answers, so only the 200 ms limit on the headers can end it.
    const http = new HttpClient({ timeoutMs: 200, stallTimeoutMs: 0, headers: {}, env: {} });
    try {
      const error = await http.request('GET', `${origin}/a`, {}).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ETIMEOUT' });
      expect((error as Error).message).toMatch(/timed out: no response headers within 200 ms/);
    } finally {
      http.destroy();
      await shut(server);
    }
  });

  it('takes a limit of 0 as none: a slow head and a silent body are waited for', async () => {
    const server = net.createServer((socket) => {
      socket.once('data', () => {
        setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab'), 150);
        setTimeout(() => socket.write('cd'), 300);
      });
    });
    const origin = await listen(server);
    const http = new HttpClient({ timeoutMs: 0, stallTimeoutMs: 0, headers: {}, env: {} });
    try {
      const response = await http.request('GET', `${origin}/a`, {});
      expect(response.status).toBe(200);
      expect(await text(response)).toBe('abcd');
    } finally {
      http.destroy();
      await shut(server);
    }
  });

  it('follows redirects on a fetch, and refuses a loop with a clear error', async () => {
    const body = randomBytesSeeded(300 * KiB, 'redirect');
    h.cdn.set('/m/real.bin', body);
    h.cdn.set('/m/a.bin', Buffer.alloc(0));
    h.cdn.fault('/m/a.bin', { kind: 'status', status: 302, headers: { location: '/m/real.bin' } });
    const manifest = h.manifest([{ path: 'a.bin', size: body.length, integrity: sriOf(body) }]);
    const report = await fetchManifest(manifest, { cacheDir: h.cacheDir, baseDelayMs: 1 });
    expect(report.ok).toBe(true);
    expect((await cacache.get(h.cacheDir, cacheKey(manifest.fragments[0]!))).data.equals(body)).toBe(true);

    h.cdn.fault(
      '/m/b.bin',
      { kind: 'status', status: 301, headers: { location: '/m/b.bin' } },
      { times: Infinity },
    );
    const loop = h.manifest([{ path: 'b.bin', size: 10 }]);
    const failed = await fetchManifest(loop, { cacheDir: h.cacheDir, baseDelayMs: 1, retries: 0 });
    expect(failed.ok).toBe(false);
    expect(failed.failures[0]!.error).toMatchObject({
      code: 'EREDIRECT',
      message: expect.stringMatching(/redirect loop/),
    });
    await h.cdn.idle();
    expect(h.cdn.requestsFor('/m/b.bin')).toHaveLength(1);
  });

  describe('HTTP/1.1 answers written byte by byte', () => {
    /** A server that answers each request on a connection with the next of `answers`, as raw bytes. */
    async function rawServer(answers: (string | Buffer)[][]) {
      let next = 0;
      const connections: number[] = [];
      const closed: Promise<unknown>[] = [];
      const server = net.createServer((socket) => {
        connections.push(0);
        closed.push(once(socket, 'close'));
        const id = connections.length - 1;
        let buffered = '';
        socket.on('data', (data) => {
          buffered += data.toString('latin1');
          while (buffered.includes('\r\n\r\n')) {
            buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
            connections[id]!++;
            const parts = answers[next++] ?? [];
            let delay = 0;
            for (const part of parts) {
              setTimeout(() => {
                if (part === 'CLOSE') socket.end();
                else socket.write(part);
              }, delay);
              delay += 5;
            }
          }
        });
        socket.on('error', () => {});
      });
      return { server, origin: await listen(server), connections, closed };
    }

    it('reads a chunked body split across packets, and reuses the connection after it', async () => {
      const chunked = [
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel',
        'lo\r\n6\r\n world\r\n',
        '0\r\n\r\n',
      ];
      const { server, origin, connections } = await rawServer([chunked, chunked]);
      const http = client();
      try {
        expect(await text(await http.request('GET', `${origin}/a`, {}))).toBe('hello world');
        expect(await text(await http.request('GET', `${origin}/a`, {}))).toBe('hello world');
        expect(connections).toEqual([2]);
      } finally {
        await http.close();
        await shut(server);
      }
    });

    it('reads a body delimited by the close of the connection, after an interim 103', async () => {
      const { server, origin } = await rawServer([
        ['HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil ', 'the end', 'CLOSE'],
      ]);
      const http = client();
      try {
        const response = await http.request('GET', `${origin}/a`, {});
        expect(response.status).toBe(200);
        expect(await text(response)).toBe('until the end');
      } finally {
        await http.close();
        await shut(server);
      }
    });

    it('fails a body cut short by the server, and does not reuse a connection that sent too much', async () => {
      const { server, origin, connections } = await rawServer([
        ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', 'CLOSE'],
        ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA'],
        ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
      ]);
      const http = client();
      try {
        const cut = await http.request('GET', `${origin}/a`, {});
        await expect(text(cut)).rejects.toThrow(/closed the connection/);
        expect(await text(await http.request('GET', `${origin}/b`, {}))).toBe('ok');
        expect(await text(await http.request('GET', `${origin}/c`, {}))).toBe('ok');
        // One connection each: the cut one is gone, and the one that over-answered is not reused.
        expect(connections).toEqual([1, 1, 1]);
      } finally {
        await http.close();
        await shut(server);
      }
    });

    it('writes a body that fits into the buffer given, across packets and reads, reusing its connection', async () => {
      const { server, origin, connections } = await rawServer([
        ['HTTP/1.1 200 OK\r\nContent-Length: 11\r\nETag: "v1"\r\n\r\nhel', 'lo wo', 'rld'],
        // A body of several reads, in two writes.
        [`HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n${'a'.repeat(5000)}`, 'b'.repeat(5000)],
        ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
      ]);
      const http = client();
      try {
        const buffer = Buffer.alloc(16, '.');
        const response = await http.requestInPlace(`${origin}/a`, {}, undefined, buffer);
        expect(response.status).toBe(200);
        expect(response.headers.etag).toBe('"v1"');
        if (!('inPlace' in response)) throw new Error('expected the body in place');
        await response.inPlace.done;
        expect(response.inPlace.received).toBe(11);
        expect(buffer.toString()).toBe('hello world.....');
        const large = Buffer.alloc(10_000);
        const second = await http.requestInPlace(`${origin}/b`, {}, undefined, large);
        if (!('inPlace' in second)) throw new Error('expected the body in place');
        await second.inPlace.done;
        expect(large.toString()).toBe('a'.repeat(5000) + 'b'.repeat(5000));
        // Bodies in place and streamed ones share the origin's connections.
        expect(await text(await http.request('GET', `${origin}/c`, {}))).toBe('ok');
        expect(connections).toEqual([3]);
      } finally {
        await http.close();
        await shut(server);
      }
    });

    it('drops an idle connection for bodies in place that the server closed, and opens another', async () => {
      const { server, origin, connections, closed } = await rawServer([
        ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'CLOSE'],
        ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'],
      ]);
      const http = client();
      try {
        const buffer = Buffer.alloc(2);
        for (const expected of ['ok', 'hi']) {
          const response = await http.requestInPlace(`${origin}/a`, {}, undefined, buffer);
          if (!('inPlace' in response)) throw new Error('expected the body in place');
          await response.inPlace.done;
          expect(buffer.toString()).toBe(expected);
          // The server closes the first connection after its answer; closed on both sides, the
          // client knows it before its next request.
          if (expected === 'ok') await closed[0];
        }
        expect(connections).toEqual([1, 1]);
      } finally {
        await http.close();
        await shut(server);
      }
    });

    it('fails an object whose chunked body runs past its size, though every byte it wanted came', async () => {
      const long = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ntoo long!\r\n0\r\n\r\n';
      const { server, origin } = await rawServer([[long], [long]]);
      try {
        const manifest = h.manifest([{ path: 'a.bin', url: `${origin}/a.bin`, size: 4 }]);
        const report = await fetchManifest(manifest, { cacheDir: h.cacheDir, baseDelayMs: 1 });
        expect(report.failures[0]?.error.code).toBe('ESIZE');
        expect(report.requests).toBe(1);
        expect(await cacache.ls(h.cacheDir)).toEqual({});
      } finally {
        await shut(server);
      }
    });

    it('streams what does not fit or is no 200/206: an error page, a chunked body, a longer one', async () => {
      const { server, origin } = await rawServer([
        ['HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope'],
        ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
        ['HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\ntoo long!'],
      ]);
      const http = client();
      try {
        const buffer = Buffer.alloc(8, '.');
        for (const [status, body] of [
          [404, 'nope'],
          [200, 'ok'],
          [200, 'too long!'],
        ] as const) {
          const response = await http.requestInPlace(`${origin}/a`, {}, undefined, buffer);
          expect(response.status).toBe(status);
          if ('inPlace' in response) throw new Error('expected a stream');
          expect(await text(response)).toBe(body);
        }
        expect(buffer.toString()).toBe('........');
      } finally {
        await http.close();
        await shut(server);
      }
    });

    it('keeps every byte of a streamed answer read through the scratch buffer: a long error page, a split head', async () => {
      const page = ['a', 'b', 'c', 'd'].map((letter) => letter.repeat(3000));
      const { server, origin } = await rawServer([
        [`HTTP/1.1 503 Service Unavailable\r\nContent-Length: 12000\r\n\r\n${page[0]}`, ...page.slice(1)],
        ['HTTP/1.1 200 OK\r\nContent-Le', 'ngth: 9\r\n\r\ntoo ', 'long!'],
      ]);
      const http = client();
      try {
        const buffer = Buffer.alloc(8, '.');
        const error = await http.requestInPlace(`${origin}/a`, {}, undefined, buffer);
        if ('inPlace' in error) throw new Error('expected a stream');
        // Read only once all of it has arrived: the scratch buffer has been reused meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(error.status).toBe(503);
        expect(await text(error)).toBe(page.join(''));
        const long = await http.requestInPlace(`${origin}/b`, {}, undefined, buffer);
        if ('inPlace' in long) throw new Error('expected a stream');
        expect(await text(long)).toBe('too long!');
        expect(buffer.toString()).toBe('........');
      } finally {
        await http.close();
        await shut(server);
      }
    });

    it('rejects a body in place cut short, keeping what arrived; a cancelled one closes its connection', async () => {
      const { server, origin, connections } = await rawServer([
        ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', 'CLOSE'],
        ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf'],
        ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
      ]);
      const http = client();
      try {
        const buffer = Buffer.alloc(10);
        const cut = await http.requestInPlace(`${origin}/a`, {}, undefined, buffer);
        if (!('inPlace' in cut)) throw new Error('expected the body in place');
        await expect(cut.inPlace.done).rejects.toThrow(/closed the connection/);
        expect(cut.inPlace.received).toBe(5);
        expect(buffer.subarray(0, 5).toString()).toBe('short');

        const given = await http.requestInPlace(`${origin}/b`, {}, undefined, buffer);
        if (!('inPlace' in given)) throw new Error('expected the body in place');
        given.inPlace.cancel();
        await expect(given.inPlace.done).rejects.toThrow(/given up/);
        expect(await text(await http.request('GET', `${origin}/c`, {}))).toBe('ok');
        // undici may open a spare connection while the cancelled one closes; none serves two requests.
        expect(connections.filter((served) => served > 0)).toEqual([1, 1, 1]);
      } finally {
        await http.close();
        await shut(server);
      }
    });

    it('refuses a response that is not HTTP, and a header that would smuggle a line', async () => {
      const { server, origin } = await rawServer([['SSH-2.0-OpenSSH_9.2\r\n\r\n']]);
      const http = client();
      try {
        await expect(http.request('GET', `${origin}/a`, {})).rejects.toMatchObject({
          code: 'ENETWORK',
          message: expect.stringMatching(/does not match the HTTP\/1.1 protocol/),
        });
        await expect(http.request('GET', `${origin}/a`, { 'x-a': 'b\r\nx-c: d' })).rejects.toMatchObject({
          code: 'ENETWORK',
          message: expect.stringMatching(/invalid x-a header/),
        });
      } finally {
        await http.close();
        await shut(server);
      }
    });
  });
});
