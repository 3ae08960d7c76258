/**
 * A real squid (Debian's `/usr/sbin/squid`) on a free loopback port, with Debian's default access
 * rules: CONNECT only to port 443 (`deny CONNECT !SSL_ports`, so a tunnel to the test CDN's port is
 * refused with 403) and plain http forwarded from localhost. Tests that want it skip without it:
 * `squidAvailable()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants as fs } from 'node:fs';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { acceptsConnections, freePort } from '../../bench/net.js';
import { tempDir } from './fixtures.js';

export const SQUID = '/usr/sbin/squid';

export interface Squid {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** squid's access.log so far: one line per request, with its method, target and status. */
  accessLog(): Promise<string>;
  close(): Promise<void>;
}

export function squidAvailable(): boolean {
  try {
    accessSync(SQUID, fs.X_OK);
    return true;
  } catch {
    return false;
  }
}

// Debian 12's /etc/squid/squid.conf without its comments, the localnet ACLs (only localhost asks
// here) and the port; then what a throwaway instance needs.
function config(dir: string, port: number): string {
  return `
acl SSL_ports port 443
acl Safe_ports port 80 21 443 70 210 1025-65535 280 488 591 777
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
http_access allow localhost manager
http_access deny manager
http_access allow localhost
http_access deny all
http_port 127.0.0.1:${port}
refresh_pattern . 0 20% 4320

# Not Debian's: every request reaches the origin (tests count them), nothing outlives the test,
# and stopping does not wait the default 30 s for clients.
cache deny all
pid_filename ${path.join(dir, 'squid.pid')}
access_log stdio:${path.join(dir, 'access.log')}
cache_log ${path.join(dir, 'cache.log')}
coredump_dir ${dir}
logfile_rotate 0
shutdown_lifetime 0 seconds
`;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Starts squid in the foreground and resolves once its port accepts connections. */
export async function startSquid(): Promise<Squid> {
  const dir = await tempDir('fragfetch-squid-');
  // Started as root, squid drops to user `proxy`, which must be able to write its logs here.
  await chmod(dir, 0o777);
  const port = await freePort();
  const conf = path.join(dir, 'squid.conf');
  await writeFile(conf, config(dir, port));
  const child = spawn(SQUID, ['-N', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const cleanup = async () => {
    await stop(child);
    await rm(dir, { recursive: true, force: true });
  };
  // Polls the port rather than sleeping a guess; squid takes ~100 ms to ~1 s to listen.
  const deadline = performance.now() + 15_000;
  while (!(await acceptsConnections(port))) {
    if (child.exitCode !== null || performance.now() > deadline) {
      const log = await readFile(path.join(dir, 'cache.log'), 'utf8').catch(() => '');
      await cleanup();
      throw new Error(
        `squid did not start on port ${port}: ${(stderr || log).trim().split('\n').slice(-5).join(' | ')}`,
      );
    }
    await sleep(20);
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    accessLog: () => readFile(path.join(dir, 'access.log'), 'utf8').catch(() => ''),
    close: cleanup,
  };
}
