/**
 * A TCP relay on 127.0.0.1 that forwards every connection to a target and holds each chunk for a
 * fixed time in each direction: an edge `2 × delayMs` of round trip away, for any protocol on top
 * (HTTP, TLS, HTTP/2). Order is kept and backpressure passes through; the relay counts what it
 * did, so tests assert on counts instead of clocks.
 *
 *   client ──chunk──▶ relay ──(delayMs)──▶ target
 *   client ◀──(delayMs)── relay ◀──chunk── target
 */
import type { AddressInfo, Socket } from 'node:net';
import { connect, createServer } from 'node:net';

export interface RelayOptions {
  target: { host?: string; port: number };
  /** Milliseconds each chunk (and the end of each stream) waits before it is forwarded, per direction. */
  delayMs: number;
}

export interface RelayStats {
  /** Client connections accepted. */
  connections: number;
  /** Chunks forwarded client → target and target → client. */
  chunksUp: number;
  chunksDown: number;
  bytesUp: number;
  bytesDown: number;
  /** The delay applied, summed over every chunk forwarded (ms): chunks × delayMs. */
  delayedMs: number;
}

export interface TcpRelay {
  readonly port: number;
  /** `<scheme>://127.0.0.1:<port>`, for a URL that goes through the relay. */
  origin(scheme: 'http' | 'https'): string;
  readonly stats: Readonly<RelayStats>;
  close(): Promise<void>;
}

function cut(socket: Socket, err: NodeJS.ErrnoException | undefined): void {
  // A reset stays a reset on the other side, so the test CDN's `reset` fault survives the relay.
  if (err?.code === 'ECONNRESET' && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

export async function startRelay(options: RelayOptions): Promise<TcpRelay> {
  const { delayMs } = options;
  const stats: RelayStats = {
    connections: 0,
    chunksUp: 0,
    chunksDown: 0,
    bytesUp: 0,
    bytesDown: 0,
    delayedMs: 0,
  };
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (fn: () => void) => {
    // Timers of one duration fire in the order they were set: chunks keep their order.
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, delayMs);
    timers.add(timer);
  };

  const pipe = (from: Socket, to: Socket, direction: 'Up' | 'Down') => {
    let paused = false;
    from.on('data', (chunk: Buffer) => {
      stats[`chunks${direction}`]++;
      stats[`bytes${direction}`] += chunk.length;
      stats.delayedMs += delayMs;
      later(() => {
        if (to.destroyed || to.write(chunk) || paused) return;
        paused = true;
        from.pause();
        to.once('drain', () => {
          paused = false;
          from.resume();
        });
      });
    });
    // Ends, resets and closes travel as late as the bytes before them, so a peer sees every byte
    // sent before the cut (a reset after 1000 bytes still delivers the 1000).
    from.on('end', () => later(() => to.end()));
    from.on('error', (err) => later(() => cut(to, err)));
    from.on('close', () => {
      // Destroying at once after a graceful end would drop the bytes `to` still has buffered.
      if (!from.readableEnded) later(() => to.destroyed || to.destroy());
    });
  };

  const server = createServer((client) => {
    stats.connections++;
    const upstream = connect(options.target.port, options.target.host ?? '127.0.0.1');
    for (const socket of [client, upstream]) {
      // Each held chunk leaves as one write when due. With Nagle's algorithm on, a write behind an
      // unacknowledged one waited for the peer's delayed ACK (~40 ms on Linux): a request and its
      // answer took ~90 ms through a 40 ms relay instead of ~50. The endpoints keep their own setting.
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    }
    pipe(client, upstream, 'Up');
    pipe(upstream, client, 'Down');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    origin: (scheme) => `${scheme}://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
