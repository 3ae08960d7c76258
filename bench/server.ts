/**
 * Where the fixtures are served from: a real nginx on loopback when one is installed, else the
 * project's own test CDN (test/support/cdn.ts), in this process.
 */
import path from 'node:path';
import { startCdn } from '../test/support/cdn.js';
import { findNginx, startNginx } from './nginx.js';

export type ServerChoice = 'auto' | 'nginx' | 'cdn';

export interface BenchServer {
  kind: 'nginx' | 'test-cdn';
  /** e.g. `nginx/1.22.1` or `fragfetch test CDN (node v20…)` */
  description: string;
  origin: string;
  /** Why the preferred server was not used, if it was not. */
  note?: string;
  /** Requests the server has answered so far (nginx's access log, the CDN's request log). */
  requests(): Promise<number>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  choice: ServerChoice;
  root: string;
  /** Folder (under root) served again at `/throttled/`. */
  throttledDir: string;
  throttleBytesPerSecond: number;
  /** Path under root of a file that must be served before the server counts as ready. */
  probePath: string;
}

export async function startServer(options: ServerOptions): Promise<BenchServer> {
  let note: string | undefined;
  if (options.choice !== 'cdn') {
    const binary = await findNginx();
    if (binary) {
      try {
        const nginx = await startNginx(binary, options);
        return {
          kind: 'nginx',
          description: nginx.version,
          origin: nginx.origin,
          requests: nginx.requests,
          stop: nginx.stop,
        };
      } catch (error) {
        if (options.choice === 'nginx') throw error;
        note = `nginx failed to start (${(error as Error).message}); serving from the test CDN instead`;
      }
    } else {
      if (options.choice === 'nginx') throw new Error('nginx is not installed');
      note = 'nginx is not installed; serving from the test CDN (in the harness process) instead';
    }
  }
  const cdn = await startCdn();
  cdn.mount('/', options.root);
  cdn.mount('/throttled', path.resolve(options.throttledDir), { limitRate: options.throttleBytesPerSecond });
  return {
    kind: 'test-cdn',
    description: `fragfetch test CDN (node ${process.version})`,
    origin: cdn.origin,
    ...(note === undefined ? {} : { note }),
    requests: () => Promise.resolve(cdn.requests.length),
    stop: () => cdn.close(),
  };
}
