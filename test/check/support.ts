import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A port that nothing listens on: bound, then closed, so a connection to it is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface SilentServer {
  origin: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Resolves once `count` connections have been accepted. */
  connected(count?: number): Promise<void>;
  close(): Promise<void>;
}

/** A server that accepts connections and never answers: every request waits for its headers. */
export async function silentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const waiting: { count: number; resolve: () => void }[] = [];
  const server: Server = createServer((socket) => {
    connections++;
    for (const waiter of waiting.filter((w) => w.count <= connections)) {
      waiting.splice(waiting.indexOf(waiter), 1);
      waiter.resolve();
    }
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    connected: (count = 1) =>
      count <= connections ? Promise.resolve() : new Promise((resolve) => waiting.push({ count, resolve })),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
