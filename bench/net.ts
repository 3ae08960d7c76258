/** Loopback helpers: a free port, and waiting until a server answers. */
import { get } from 'node:http';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` now. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function status(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get(url, { headers: { range: 'bytes=0-0' } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.once('error', reject);
    request.setTimeout(2000, () => request.destroy(new Error('timeout')));
  });
}

/** Resolves once `url` answers 200 or 206; rejects on any other status, or after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    try {
      const code = await status(url);
      if (code === 200 || code === 206) return;
      throw Object.assign(new Error(`GET ${url}: HTTP ${code}`), { fatal: true });
    } catch (error) {
      if ((error as { fatal?: boolean }).fatal) throw error;
      last = error;
    }
    await sleep(50);
  }
  throw new Error(`GET ${url}: no answer within ${timeoutMs} ms (${String(last)})`);
}
