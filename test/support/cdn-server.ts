/**
 * The test CDN's listening server: plain HTTP/1.1, HTTPS (HTTP/1.1 only, by ALPN) or HTTP/2 over TLS
 * with HTTP/1.1 fallback, all driving the same request handler through Node's compatible req/res API.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { createSecureServer } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

type Pem = string | Buffer;

export interface CdnTls {
  cert: Pem;
  key: Pem;
  /** CAs trusted for client certificates; with `requestCert`, clients without one are refused. */
  ca?: Pem | Pem[];
  /** Ask for a client certificate and refuse the handshake without a valid one (mutual TLS). */
  requestCert?: boolean;
}

export interface ServerOptions {
  /** Serve HTTPS with this certificate; `origin` becomes `https://127.0.0.1:<port>`. */
  tls?: CdnTls;
  /** Offer HTTP/2 by ALPN (HTTP/1.1 stays available). Needs `tls`: clients do not speak h2c. */
  http2?: boolean;
}

export type CdnRequest = IncomingMessage | Http2ServerRequest;
export type CdnResponse = ServerResponse | Http2ServerResponse;

export interface CdnServer {
  readonly scheme: 'http' | 'https';
  readonly port: number;
  close(): Promise<void>;
}

/** On HTTP/2, the flow-control windows the client granted: its streams' initial one and its connection's. */
export function clientWindowsOf(req: CdnRequest): { clientWindows?: { stream: number; connection: number } } {
  const session = 'stream' in req ? req.stream.session : undefined;
  if (!session) return {};
  const stream = session.remoteSettings.initialWindowSize ?? 65_535;
  return { clientWindows: { stream, connection: session.state.remoteWindowSize ?? 65_535 } };
}

/** The common name of the client certificate presented on this request's connection, if any. */
export function clientCertificateOf(req: CdnRequest): string | undefined {
  const socket = ('stream' in req ? req.stream.session?.socket : req.socket) as TLSSocket | undefined;
  if (typeof socket?.getPeerCertificate !== 'function') return undefined;
  const subject = socket.getPeerCertificate().subject as { CN?: string | string[] } | undefined;
  return Array.isArray(subject?.CN) ? subject.CN.join(', ') : subject?.CN;
}

function make(options: ServerOptions, handler: (req: CdnRequest, res: CdnResponse) => void): Server {
  const { tls, http2 } = options;
  if (http2 && !tls) throw new Error('startCdn: http2 needs tls (clients do not speak cleartext HTTP/2)');
  if (!tls) return createHttpServer(handler);
  const secure = { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.requestCert ?? false };
  if (!http2) return createHttpsServer({ ...secure, ALPNProtocols: ['http/1.1'] }, handler);
  // Bodies of many parallel streams are buffered per session; the default 10 MB cap would answer
  // heavy tests with ENHANCE_YOUR_CALM instead of data.
  return createSecureServer({ ...secure, allowHTTP1: true, maxSessionMemory: 256 }, handler);
}

/** Listens on 127.0.0.1 and a free port; `onConnection` sees every TCP connection accepted. */
export async function listenCdn(
  options: ServerOptions,
  handler: (req: CdnRequest, res: CdnResponse) => void,
  onConnection: () => void,
): Promise<CdnServer> {
  const server = make(options, handler);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    onConnection();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    scheme: options.tls ? 'https' : 'http',
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve, reject) => {
        server.close((err) => {
          if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(err);
          else resolve();
        });
        // Stalled and kept-alive connections (HTTP/2 sessions among them) would hold close() open.
        for (const socket of sockets) socket.destroy();
      }),
  };
}
