import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

/** One request as read off the socket: nothing normalised, so a test sees what the client sent. */
export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** 1 for the first request to this path, 2 for the next... */
  count: number;
  /** The requested range, when a `Range: bytes=a-b` (or `a-`) was sent. */
  range?: { start: number; end: number | undefined };
}

/**
 * What the server does for one path: writes whatever it likes on the socket. Return 'keep' to read
 * the next request from the same connection; anything else ends the connection once written.
 */
export type Behaviour = (socket: Socket, request: RawRequest) => 'keep' | void | Promise<'keep' | void>;

export interface RawServer {
  url(path: string): string;
  on(path: string, behaviour: Behaviour): void;
  requests: RawRequest[];
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/**
 * A server on raw sockets (node:net), for answers no HTTP library would write: a body longer than
 * its framing, two Content-Lengths, bytes nobody asked for, a drip. Behaviour is chosen by path.
 */
export async function startRawServer(): Promise<RawServer> {
  const behaviours = new Map<string, Behaviour>();
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const requests: RawRequest[] = [];
  const state = { connections: 0 };

  const serve = (socket: Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    let busy = false;
    const next = async () => {
      if (busy) return;
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      busy = true;
      const head = pending.subarray(0, end).toString('latin1');
      pending = pending.subarray(end + 4);
      const [line = '', ...fields] = head.split('\r\n');
      const [method = '', path = ''] = line.split(' ');
      const headers: Record<string, string> = {};
      for (const field of fields) {
        const colon = field.indexOf(':');
        headers[field.slice(0, colon).trim().toLowerCase()] = field.slice(colon + 1).trim();
      }
      const count = (counts.get(path) ?? 0) + 1;
      counts.set(path, count);
      const request: RawRequest = { method, path, headers, count };
      const match = /^bytes=(\d+)-(\d*)$/.exec(headers.range ?? '');
      if (match)
        request.range = { start: Number(match[1]), end: match[2] === '' ? undefined : Number(match[2]) + 1 };
      requests.push(request);
      const behaviour = behaviours.get(path);
      const result = behaviour
        ? await behaviour(socket, request)
        : void socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      busy = false;
      if (result === 'keep') void next();
      else if (!socket.destroyed) socket.end();
    };
    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      void next();
    });
  };

  const server: Server = createServer(serve);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    on: (path, behaviour) => behaviours.set(path, behaviour),
    requests,
    get connections() {
      return state.connections;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A response head: the status line, the fields as given (repeats allowed), the blank line. */
export function head(status: string, fields: readonly (readonly [string, string | number])[]): string {
  return `HTTP/1.1 ${status}\r\n${fields.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

/** A 206 for the request's range of `body`, with the given extra fields; Content-Length unless told. */
export function partial(
  body: Buffer,
  request: RawRequest,
  fields: readonly (readonly [string, string | number])[] = [],
): Buffer {
  const start = request.range?.start ?? 0;
  const end = Math.min(request.range?.end ?? body.length, body.length);
  const slice = body.subarray(start, end);
  return Buffer.concat([
    Buffer.from(
      head('206 Partial Content', [
        ['Content-Range', `bytes ${start}-${end - 1}/${body.length}`],
        ['Content-Length', slice.length],
        ...fields,
      ]),
      'latin1',
    ),
    slice,
  ]);
}

/** A 200 of the whole of `body`, with Content-Length and the given extra fields. */
export function whole(body: Buffer, fields: readonly (readonly [string, string | number])[] = []): Buffer {
  return Buffer.concat([
    Buffer.from(head('200 OK', [['Content-Length', body.length], ...fields]), 'latin1'),
    body,
  ]);
}
