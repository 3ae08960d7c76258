/**
 * A real nginx as a pull-through cache tier in front of an origin (the test CDN): the recipe of the
 * README's "A cache tier for a fleet", on a free loopback port, over HTTPS with a certificate of the
 * test PKI (HTTP/2 offered by ALPN), plain HTTP to the origin with kept-alive connections.
 *
 * The `slice` module splits every object into fixed ranges cached one by one, so a Range request and
 * a whole-object GET are both answered from the same cached slices; without it nginx caches only
 * what a client asked for, and a second node's different ranges would all miss.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildInfo, findNginx, stopChild } from '../../bench/nginx.js';
import { acceptsConnections, freePort } from '../../bench/net.js';
import { tempDir } from './fixtures.js';
import type { Identity } from './pki.js';
import { pollUntil } from './poll.js';

export { findNginx };

export interface TierOptions {
  /** The origin the tier pulls through to: `http://127.0.0.1:<port>` (no path). */
  origin: string;
  /** Certificate and key for the tier's HTTPS port. */
  tls: Identity;
  /** nginx's size syntax (`1m`, `256k`); default `1m`. */
  slice?: string;
  binary?: string;
}

/** One line of the tier's access log: one request answered to a client. */
export interface TierRequest {
  /** nginx's `$upstream_cache_status`: HIT, MISS, EXPIRED…; `-` when no cache lookup was made. */
  cache: string;
  status: number;
  method: string;
  /** The client's Range header, `-` without one. */
  range: string;
  /** The client's If-Range as nginx logs it (`\"` for a quote), `-` without one. */
  ifRange: string;
  uri: string;
  protocol: string;
}

export interface NginxTier {
  /** `https://127.0.0.1:<port>` */
  readonly origin: string;
  readonly port: number;
  /** The requests the tier has answered, in the order they completed. */
  requests(): Promise<TierRequest[]>;
  /**
   * Resolves once `count` requests are in the access log. nginx writes a line after a request is
   * finalised, which is after the slice it fetched was moved into the cache. No deadline of its
   * own: the test's timeout is the bound.
   */
  waitForRequests(count: number): Promise<TierRequest[]>;
  /** Stops nginx (its port then refuses connections); the logs stay readable until `close()`. */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export interface TierConfig {
  prefix: string;
  port: number;
  /** `host:port` of the origin. */
  upstream: string;
  slice: string;
  cert: string;
  key: string;
  http2Directive: boolean;
  tempPathDirectives: string[];
}

/** The nginx.conf of the tier: the README recipe plus what a throwaway instance needs. */
export function tierConf(c: TierConfig): string {
  const temp = c.tempPathDirectives
    .map(
      (directive) => `    ${directive} ${path.join(c.prefix, 'temp', directive.replace('_temp_path', ''))};`,
    )
    .join('\n');
  // nginx 1.25.1 moved HTTP/2 from a `listen` parameter to its own directive.
  const listen = c.http2Directive
    ? `listen 127.0.0.1:${c.port} ssl;\n        http2 on;`
    : `listen 127.0.0.1:${c.port} ssl http2;`;
  return `# Written by fragfetch's tests (test/support/nginx-tier.ts); removed when they stop.
daemon off;
master_process on;
worker_processes 1;
pid ${path.join(c.prefix, 'nginx.pid')};
error_log ${path.join(c.prefix, 'error.log')} warn;

events {
    worker_connections 1024;
}

http {
    # What the tests read back: whether each request was a cache hit, and what the client asked.
    log_format tier '$upstream_cache_status $status $request_method "$http_range" "$http_if_range" $uri $server_protocol';
    access_log ${path.join(c.prefix, 'access.log')} tier;
${temp}

    proxy_cache_path ${path.join(c.prefix, 'cache')} levels=1:2 keys_zone=tier:10m
                     max_size=1g inactive=30d use_temp_path=off;

    upstream origin {
        server ${c.upstream};
        keepalive 16;
    }

    server {
        ${listen}
        ssl_certificate ${c.cert};
        ssl_certificate_key ${c.key};

        location / {
            slice ${c.slice};
            proxy_cache tier;
            proxy_cache_key $uri$is_args$args$slice_range;
            proxy_set_header Range $slice_range;
            proxy_cache_valid 200 206 30d;
            # Nodes that miss the same slice at once wait for one upstream request, not one each.
            proxy_cache_lock on;
            proxy_cache_lock_timeout 60s;
            proxy_cache_revalidate on;
            proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;

            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://origin;
            add_header X-Cache-Status $upstream_cache_status always;
        }
    }
}
`;
}

function parseLog(text: string): TierRequest[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const match = /^(\S+) (\d+) (\S+) "([^"]*)" "((?:[^"\\]|\\.)*)" (\S+) (\S+)$/.exec(line);
      if (!match) throw new Error(`nginx tier: unexpected access log line: ${line}`);
      const [, cache, status, method, range, ifRange, uri, protocol] = match as unknown as string[];
      return {
        cache: cache!,
        status: Number(status),
        method: method!,
        range: range!,
        ifRange: ifRange!,
        uri: uri!,
        protocol: protocol!,
      };
    });
}

/** Starts the tier in the foreground and resolves once its port accepts connections. */
export async function startNginxTier(options: TierOptions): Promise<NginxTier> {
  const binary = options.binary ?? (await findNginx());
  if (binary === undefined)
    throw new Error('nginx tier: no nginx binary (Debian: apt-get install nginx-light)');
  const { tempPathDirectives, http2Directive } = await buildInfo(binary);
  const prefix = await tempDir('fragfetch-tier-');
  // Started as root, nginx's workers run as `nobody`: they must reach the cache and temp folders,
  // which the master creates inside and hands to them.
  await chmod(prefix, 0o755);
  await mkdir(path.join(prefix, 'temp'));
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  const config = {
    prefix,
    port,
    upstream: new URL(options.origin).host,
    slice: options.slice ?? '1m',
    cert: options.tls.cert.path,
    key: options.tls.key.path,
    http2Directive,
    tempPathDirectives,
  };
  await writeFile(conf, tierConf(config));
  // -e: the error log from the very start (before the conf is read), so nothing goes to /var/log.
  const errorLog = path.join(prefix, 'error.log');
  const child: ChildProcess = spawn(binary, ['-p', prefix, '-c', conf, '-e', errorLog], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = () => stopChild(child, exited);
  const close = async () => {
    await stop();
    await rm(prefix, { recursive: true, force: true });
  };
  const deadline = performance.now() + 15_000;
  while (!(await acceptsConnections(port))) {
    if (child.exitCode !== null || performance.now() > deadline) {
      const log = await readFile(errorLog, 'utf8').catch(() => '');
      await close();
      throw new Error(`nginx tier did not start: ${(stderr + log).trim().split('\n').slice(-3).join(' | ')}`);
    }
    await sleep(20);
  }
  const requests = async () =>
    parseLog(await readFile(path.join(prefix, 'access.log'), 'utf8').catch(() => ''));
  return {
    origin: `https://127.0.0.1:${port}`,
    port,
    requests,
    async waitForRequests(count) {
      let seen: TierRequest[] = [];
      await pollUntil(async () => (seen = await requests()).length >= count);
      return seen;
    },
    stop,
    close,
  };
}
