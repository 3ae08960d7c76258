/**
 * Where the fixtures are served from: a real nginx on loopback when one is installed, else the
 * project's own test CDN (test/support/cdn.ts), in this process. Both serve plain http and, on a
 * second port, HTTPS with HTTP/2 offered, with a CA and server certificate made at bench time
 * (test/support/pki.ts: the openssl CLI, EC P-256).
 */
import path from 'node:path';
import { startCdn, type TestCdn } from '../test/support/cdn.js';
import { makePki } from '../test/support/pki.js';
import { findNginx, startNginx } from './nginx.js';
import { parseTraffic, type Traffic } from './traffic.js';

export type ServerChoice = 'auto' | 'nginx' | 'cdn';

export interface BenchServer {
  kind: 'nginx' | 'test-cdn' | 'none';
  /** e.g. `nginx/1.22.1` or `fragfetch test CDN (node v20…)` */
  description: string;
  origin: string;
  /** The same files over HTTPS (TLS 1.3, HTTP/2 offered), signed by `caFile`. */
  tlsOrigin: string;
  /** A slow mirror of `tlsOrigin`: the same files, each connection limited (the mirrors scenario). */
  slowTlsOrigin: string;
  /** The CA certificate (PEM) to give each tool: curl --cacert, aria2c --ca-certificate, --ca-file. */
  caFile: string;
  /** Why the preferred server was not used, if it was not. */
  note?: string;
  /** Requests the server has answered so far (nginx's access log, the CDN's request log). */
  requests(): Promise<number>;
  /** Starts watching: the function returned says what the server saw since. */
  watch(): Promise<() => Promise<Traffic>>;
  stop(): Promise<void>;
}

export interface ServerOptions {
  choice: ServerChoice;
  root: string;
  /** Folder (under root) served again at `/throttled/`. */
  throttledDir: string;
  throttleBytesPerSecond: number;
  /** The same folder again at `/throttled-link/`, each connection limited to this. */
  linkThrottleBytesPerSecond: number;
  /** The limit per connection of the slow https mirror. */
  slowMirrorBytesPerSecond: number;
  /** Path under root of a file that must be served before the server counts as ready. */
  probePath: string;
  /** An empty folder for the CA and the server's certificate. */
  pkiDir: string;
}

/** No server, for scenarios that request nothing: it never sees a request. */
export function noServer(): BenchServer {
  const none = async () => ({ requests: 0, protocols: {}, connections: null });
  return {
    kind: 'none',
    description: 'none (no scenario run serves a file)',
    origin: 'http://127.0.0.1:9',
    tlsOrigin: 'https://127.0.0.1:9',
    slowTlsOrigin: 'https://127.0.0.1:9',
    caFile: '',
    requests: async () => 0,
    watch: async () => none,
    stop: async () => {},
  };
}

export async function startServer(options: ServerOptions): Promise<BenchServer> {
  const pki = await makePki(options.pkiDir);
  const caFile = pki.ca.cert.path;
  let note: string | undefined;
  if (options.choice !== 'cdn') {
    const binary = await findNginx();
    if (binary) {
      try {
        const nginx = await startNginx(binary, {
          ...options,
          tls: { cert: pki.server.cert.path, key: pki.server.key.path },
        });
        return {
          kind: 'nginx',
          description: nginx.version,
          origin: nginx.origin,
          tlsOrigin: nginx.tlsOrigin!,
          slowTlsOrigin: nginx.slowTlsOrigin!,
          caFile,
          requests: nginx.requests,
          watch: async () => {
            const since = await nginx.requests();
            return () => nginx.trafficSince(since);
          },
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
  const mount = (cdn: TestCdn) => {
    cdn.mount('/', options.root);
    cdn.mount('/throttled', path.resolve(options.throttledDir), {
      limitRate: options.throttleBytesPerSecond,
    });
    cdn.mount('/throttled-link', path.resolve(options.throttledDir), {
      limitRate: options.linkThrottleBytesPerSecond,
    });
    return cdn;
  };
  const cdn = mount(await startCdn());
  const tlsCdn = mount(
    await startCdn({ tls: { cert: pki.server.cert.pem, key: pki.server.key.pem }, http2: true }),
  );
  const slowCdn = await startCdn({
    tls: { cert: pki.server.cert.pem, key: pki.server.key.pem },
    http2: true,
  });
  slowCdn.mount('/', options.root, { limitRate: options.slowMirrorBytesPerSecond });
  const cdns = [cdn, tlsCdn, slowCdn];
  const lines = (from: TestCdn, since: number, tls: string) =>
    from.requests.slice(since).map((request) => `HTTP/${request.httpVersion} ${tls}`);
  return {
    kind: 'test-cdn',
    description: `fragfetch test CDN (node ${process.version})`,
    origin: cdn.origin,
    tlsOrigin: tlsCdn.origin,
    slowTlsOrigin: slowCdn.origin,
    caFile,
    ...(note === undefined ? {} : { note }),
    requests: () => Promise.resolve(cdns.reduce((sum, each) => sum + each.requests.length, 0)),
    watch: () => {
      const since = cdns.map((each) => each.requests.length);
      return Promise.resolve(() =>
        Promise.resolve(
          parseTraffic(
            cdns.flatMap((each, i) => lines(each, since[i]!, each === cdn ? '-' : 'TLS')),
            'cdn',
          ),
        ),
      );
    },
    stop: async () => {
      for (const each of cdns) await each.close();
    },
  };
}
