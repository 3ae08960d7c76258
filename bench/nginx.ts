/**
 * A private nginx on loopback for the benchmark: its own prefix under the temp dir, its own
 * nginx.conf, a free port, `sendfile`, a short access log the harness reads, and `/throttled/`
 * rate-limited per connection with `limit_rate` (as a CDN edge that caps each connection would be),
 * and `/throttled-link/` the same at a lower rate, when asked.
 * With a certificate, the same folders again over HTTPS on a second port: TLS 1.2 and 1.3, HTTP/2
 * and HTTP/1.1 offered by ALPN, as a CDN edge offers them; and, when asked, on a third port a slow
 * mirror of it, every connection limited (two mirrors of different speed, issue 18).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForHttp } from './net.js';
import { parseTraffic, type Traffic } from './traffic.js';

const run = promisify(execFile);

export interface NginxOptions {
  /** Folder served at `/`. */
  root: string;
  /** Served again at `/throttled/`, each connection limited to `throttleBytesPerSecond`. */
  throttledDir: string;
  throttleBytesPerSecond: number;
  /** The same folder again at `/throttled-link/`, each connection limited to this (cat-link). */
  linkThrottleBytesPerSecond?: number;
  /** A path that must answer 200 before the server counts as ready. */
  probePath: string;
  /** Serve HTTPS too, with this certificate and key (PEM files). */
  tls?: { cert: string; key: string };
  /** With `tls`: the same https site again on a port of its own, each connection limited to this. */
  slowMirrorBytesPerSecond?: number;
  workers?: number;
}

export interface NginxServer {
  origin: string;
  /** `https://127.0.0.1:<port>` when `tls` was given. */
  tlsOrigin?: string;
  /** The slow https mirror, when `slowMirrorBytesPerSecond` was given with `tls`. */
  slowTlsOrigin?: string;
  version: string;
  prefix: string;
  /** Lines in the access log: one per request answered. */
  requests(): Promise<number>;
  /** What the access log says of the requests after the first `since`. */
  trafficSince(since: number): Promise<Traffic>;
  stop(): Promise<void>;
}

/** The nginx binary on PATH or in the usual sbin folders, or undefined. */
export async function findNginx(): Promise<string | undefined> {
  for (const candidate of [
    'nginx',
    '/usr/sbin/nginx',
    '/usr/local/sbin/nginx',
    '/usr/local/nginx/sbin/nginx',
  ]) {
    try {
      await run(candidate, ['-v']);
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** `nginx -V` says which temp paths were compiled in; each must point into our prefix (no root needed). */
export async function buildInfo(
  binary: string,
): Promise<{ version: string; tempPathDirectives: string[]; http2Directive: boolean }> {
  const { stderr, stdout } = await run(binary, ['-V']);
  const text = `${stderr}${stdout}`;
  const version = /nginx version: (\S+)/.exec(text)?.[1] ?? 'nginx';
  const directives = ['client_body'];
  for (const module of ['proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    if (!text.includes(`--without-http_${module}_module`)) directives.push(module);
  }
  return {
    version,
    tempPathDirectives: directives.map((name) => `${name}_temp_path`),
    http2Directive: hasHttp2Directive(version),
  };
}

/** nginx 1.25.1 replaced `listen … http2` (deprecated since) with the `http2 on;` directive. */
export function hasHttp2Directive(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = (/(\d+)\.(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  return major > 1 || (major === 1 && (minor > 25 || (minor === 25 && patch >= 1)));
}

export function nginxConf(options: {
  prefix: string;
  port: number;
  root: string;
  throttledDir: string;
  throttleBytesPerSecond: number;
  linkThrottleBytesPerSecond?: number;
  workers: number;
  tempPathDirectives: string[];
  tls?: { port: number; cert: string; key: string; http2Directive: boolean };
  /** With `tls`: the https site again on `port`, every connection limited to `bytesPerSecond`. */
  slowMirror?: { port: number; bytesPerSecond: number };
}): string {
  const { prefix, port, root, throttledDir, throttleBytesPerSecond, workers, tls, slowMirror } = options;
  const link = options.linkThrottleBytesPerSecond;
  const temp = options.tempPathDirectives
    .map((directive) => `    ${directive} ${path.join(prefix, 'temp', directive.replace('_temp_path', ''))};`)
    .join('\n');
  const slash = (dir: string) => (dir.endsWith('/') ? dir : `${dir}/`);
  // The same site on each port: the https scenarios fetch the plain ones' files.
  const site = (listen: string, limit = '') => `    server {
        ${listen}
        root ${root};${limit}

        # limit_rate is per connection, in bytes per second: ${throttleBytesPerSecond} B/s
        # (nginx's "32m" would mean 32 MiB/s).
        location /throttled/ {
            alias ${slash(throttledDir)};
            limit_rate ${throttleBytesPerSecond};
        }${
          link === undefined
            ? ''
            : `
        location /throttled-link/ {
            alias ${slash(throttledDir)};
            limit_rate ${link};
        }`
        }
    }
`;
  // The slow mirror: the https site again, every request limited (limit_rate applies per request, so
  // per connection for a client that sends one at a time).
  const slow =
    tls && slowMirror
      ? `\n${site(tlsListen({ ...tls, port: slowMirror.port }), `\n        limit_rate ${slowMirror.bytesPerSecond};`)}`
      : '';
  return `# Written by fragfetch's benchmark (bench/nginx.ts); removed when it stops.
daemon off;
master_process on;
worker_processes ${workers};
pid ${path.join(prefix, 'nginx.pid')};
error_log ${path.join(prefix, 'error.log')} warn;

events {
    worker_connections 1024;
}

http {
    # One short unbuffered line per request: the harness counts them (the warm run must send none).
    # The protocol and connection serial say what each tool negotiated and how many connections it
    # opened (HTTP/2 multiplexes; 16 lines of one connection are one TCP+TLS handshake).
    log_format bench '$status $request_length $server_protocol $ssl_protocol $connection';
    access_log ${path.join(prefix, 'access.log')} bench;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 100000;
    default_type application/octet-stream;
${temp}

${site(`listen 127.0.0.1:${port};`)}${tls ? `\n${site(tlsListen(tls))}` : ''}${slow}}
`;
}

/** TLS as a CDN edge offers it: TLS 1.2 and 1.3 (clients here all pick 1.3), h2 and http/1.1 by ALPN. */
function tlsListen(tls: { port: number; cert: string; key: string; http2Directive: boolean }): string {
  const listen = tls.http2Directive
    ? `listen 127.0.0.1:${tls.port} ssl;\n        http2 on;`
    : `listen 127.0.0.1:${tls.port} ssl http2;`;
  return `${listen}
        ssl_certificate ${tls.cert};
        ssl_certificate_key ${tls.key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:bench:1m;`;
}

export async function startNginx(binary: string, options: NginxOptions): Promise<NginxServer> {
  const { version, tempPathDirectives, http2Directive } = await buildInfo(binary);
  const prefix = await mkdtemp(path.join(tmpdir(), 'fragfetch-bench-nginx-'));
  await mkdir(path.join(prefix, 'temp'), { recursive: true });
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const slowPort = options.tls && options.slowMirrorBytesPerSecond ? await freePort() : undefined;
  const conf = path.join(prefix, 'nginx.conf');
  await writeFile(
    conf,
    nginxConf({
      prefix,
      port,
      root: options.root,
      throttledDir: options.throttledDir,
      throttleBytesPerSecond: options.throttleBytesPerSecond,
      ...(options.linkThrottleBytesPerSecond === undefined
        ? {}
        : { linkThrottleBytesPerSecond: options.linkThrottleBytesPerSecond }),
      workers: options.workers ?? 2,
      tempPathDirectives,
      ...(options.tls && tlsPort !== undefined
        ? { tls: { port: tlsPort, ...options.tls, http2Directive } }
        : {}),
      ...(slowPort === undefined
        ? {}
        : { slowMirror: { port: slowPort, bytesPerSecond: options.slowMirrorBytesPerSecond! } }),
    }),
  );
  // -e: the error log from the very start (before the conf is read), so nothing goes to /var/log.
  const child = spawn(binary, ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (data: Buffer) => {
    stderr += data.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const origin = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child, exited);
    await rm(prefix, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      waitForHttp(`${origin}/${options.probePath}`, 10_000),
      exited.then(async (code) => {
        const log = await readFile(path.join(prefix, 'error.log'), 'utf8').catch(() => '');
        throw new Error(
          `nginx exited (${code}) at start: ${(stderr + log).trim().split('\n').slice(-3).join(' | ')}`,
        );
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  const readLog = () => readFile(path.join(prefix, 'access.log'), 'latin1').catch(() => '');
  const requests = async () => {
    const log = await readLog();
    let lines = 0;
    for (let at = log.indexOf('\n'); at !== -1; at = log.indexOf('\n', at + 1)) lines++;
    return lines;
  };
  const trafficSince = async (since: number) =>
    parseTraffic((await readLog()).split('\n').slice(since, -1), 'nginx');
  return {
    origin,
    ...(tlsPort === undefined ? {} : { tlsOrigin: `https://127.0.0.1:${tlsPort}` }),
    ...(slowPort === undefined ? {} : { slowTlsOrigin: `https://127.0.0.1:${slowPort}` }),
    version,
    prefix,
    requests,
    trafficSince,
    stop,
  };
}

export async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM'); // nginx: fast shutdown
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
