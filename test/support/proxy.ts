/**
 * A minimal forward proxy on 127.0.0.1 for tests, behaving the way curl expects of one: plain
 * `http:` comes as absolute-form requests (`GET http://host/path`) that the proxy forwards, and
 * `https:` as a `CONNECT host:port` tunnel. It can refuse tunnels to some ports (Debian's squid
 * allows CONNECT to 443 only) and demand `Proxy-Authorization`, and it records what it was asked.
 */
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ProxyOptions {
  /** CONNECT to these ports is answered 403, like squid's `http_access deny CONNECT !SSL_ports`. */
  refuseConnectPorts?: number[];
  /** Demand `Proxy-Authorization: Basic …` with these credentials; anything else gets 407. */
  auth?: { username: string; password: string };
}

export interface ProxyRecord {
  method: string;
  /** The request target as sent: `http://host:port/path` for a forward, `host:port` for CONNECT. */
  target: string;
  headers: IncomingHttpHeaders;
  /** What the proxy answered: 200 for a tunnel opened, the origin's status for a forward. */
  status: number;
}

export interface TestProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>`, for HTTP(S)_PROXY or undici's ProxyAgent. */
  readonly url: string;
  readonly requests: ProxyRecord[];
  /** Client TCP connections accepted. */
  readonly connections: number;
  close(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy's own: never passed on to the origin.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase()),
  );
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name) && !named.has(name)),
  );
}

function authorized(headers: IncomingHttpHeaders, auth: ProxyOptions['auth']): boolean {
  if (!auth) return true;
  const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return headers['proxy-authorization'] === expected;
}

function refuseTunnel(socket: Duplex, status: number, reason: string, extra = ''): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`);
}

const CHALLENGE = 'Proxy-Authenticate: Basic realm="test proxy"\r\n';

export async function startProxy(options: ProxyOptions = {}): Promise<TestProxy> {
  const requests: ProxyRecord[] = [];
  const sockets = new Set<Socket>();
  const upstreamAgent = new Agent({ keepAlive: true });
  let connections = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const record: ProxyRecord = {
      method: req.method ?? '',
      target: req.url ?? '',
      headers: req.headers,
      status: 0,
    };
    requests.push(record);
    const answer = (status: number, headers: OutgoingHttpHeaders = {}) => {
      record.status = status;
      res.writeHead(status, { 'content-length': 0, ...headers }).end();
    };
    if (!authorized(req.headers, options.auth))
      return answer(407, { 'proxy-authenticate': 'Basic realm="test proxy"' });
    let target: URL;
    try {
      target = new URL(record.target);
    } catch {
      return answer(400); // origin-form: this is a proxy, not an origin
    }
    if (target.protocol !== 'http:') return answer(400);
    const upstream = request(target, {
      method: req.method,
      headers: endToEnd(req.headers),
      agent: upstreamAgent,
    });
    upstream.on('response', (origin) => {
      record.status = origin.statusCode ?? 0;
      res.writeHead(record.status, endToEnd(origin.headers));
      origin.pipe(res);
      origin.on('aborted', () => res.destroy());
    });
    upstream.on('error', () => (res.headersSent ? res.destroy() : answer(502)));
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };

  const server = createServer(forward);
  server.on('connection', (socket: Socket) => {
    connections++;
    track(socket);
  });
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const record: ProxyRecord = { method: 'CONNECT', target: req.url ?? '', headers: req.headers, status: 0 };
    requests.push(record);
    const refuse = (status: number, reason: string, extra?: string) => {
      record.status = status;
      refuseTunnel(client, status, reason, extra);
    };
    if (!authorized(req.headers, options.auth))
      return refuse(407, 'Proxy Authentication Required', CHALLENGE);
    const { hostname, port } = new URL(`http://${record.target}`);
    const portNumber = Number(port || 80);
    if (options.refuseConnectPorts?.includes(portNumber)) return refuse(403, 'Forbidden');
    const upstream = connect(portNumber, hostname.replace(/^\[|\]$/g, ''));
    track(upstream);
    upstream.once('connect', () => {
      record.status = 200;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => (record.status === 0 ? refuse(502, 'Bad Gateway') : client.destroy()));
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        upstreamAgent.destroy();
      }),
  };
}
