/**
 * One timed run of a command: wall time from spawn to exit (performance.now), and the peak RSS of
 * the command as GNU time reports it (`/usr/bin/time -f %M`, KiB). The harness itself stays idle
 * meanwhile (unless it is serving as the test CDN), so it does not compete for the two cores.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const GNU_TIME = '/usr/bin/time';

export interface RunResult {
  seconds: number;
  /** Peak resident set size in KiB; null when GNU time is not available. */
  rssKiB: number | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  /** The last lines of stderr, for failures. */
  stderrTail: string;
}

export async function hasGnuTime(): Promise<boolean> {
  try {
    await access(GNU_TIME, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Process groups of the commands running now, for an interrupted harness to end them. */
const running = new Set<number>();

export function killRunning(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * The tools' environment: the harness's own, without what the machine sets for its own network.
 * Some machines set NODE_EXTRA_CA_CERTS for every process (this one, for its proxy's certificate
 * authority), and Node then parses those certificates at every start, before a line of fragfetch
 * runs: `node -e 0` took 0.12 s with it and 0.04 s without (2026-11-29). Each tool is given the
 * bench's own CA on its command line for https; curl's CURL_CA_BUNDLE and OpenSSL's SSL_CERT_FILE
 * and SSL_CERT_DIR, also set here, would only add the machine's. A proxy variable would send
 * loopback traffic to a proxy (fragfetch, curl and aria2c all read them).
 */
const MACHINE_VARIABLES = [
  'NODE_EXTRA_CA_CERTS',
  'CURL_CA_BUNDLE',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'FRAGFETCH_CA_FILE',
  'http_proxy',
  'HTTP_PROXY',
  'https_proxy',
  'HTTPS_PROXY',
  'all_proxy',
  'ALL_PROXY',
];

export function toolEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of MACHINE_VARIABLES) delete env[name];
  return env;
}

const STDOUT_LIMIT = 16 * 1024 * 1024;
const STDERR_KEEP = 4096;

export async function measure(
  argv: readonly string[],
  options: { cwd: string; timeoutMs: number; gnuTime: boolean },
): Promise<RunResult> {
  const [command, ...args] = argv;
  if (!command) throw new Error('empty command');
  const scratch = options.gnuTime ? await mkdtemp(path.join(tmpdir(), 'fragfetch-bench-time-')) : undefined;
  const rssFile = scratch ? path.join(scratch, 'rss') : undefined;
  const full = rssFile ? [GNU_TIME, '-f', '%M', '-o', rssFile, command, ...args] : [command, ...args];
  try {
    const began = performance.now();
    // Its own process group, so a timeout can end the tool and whatever it started.
    const child = spawn(full[0]!, full.slice(1), {
      cwd: options.cwd,
      env: toolEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const pid = child.pid;
    if (pid !== undefined) running.add(pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (data: string) => {
      if (stdout.length < STDOUT_LIMIT) stdout += data;
    });
    child.stderr.on('data', (data: string) => {
      stderr = (stderr + data).slice(-STDERR_KEEP);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, options.timeoutMs);
    const { code, signal, error } = await new Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
      error?: Error;
    }>((resolve) => {
      child.once('error', (err) => resolve({ code: null, signal: null, error: err }));
      child.once('close', (c, s) => resolve({ code: c, signal: s }));
    });
    const seconds = (performance.now() - began) / 1000;
    clearTimeout(timer);
    if (pid !== undefined) running.delete(pid);
    if (error) stderr += `\n${error.message}`;
    let rssKiB: number | null = null;
    if (rssFile) {
      // GNU time writes "Command exited with non-zero status N" first when the command fails.
      const text = await readFile(rssFile, 'utf8').catch(() => '');
      const last = text.trim().split('\n').at(-1) ?? '';
      rssKiB = /^\d+$/.test(last) ? Number(last) : null;
    }
    return {
      seconds,
      rssKiB,
      exitCode: code,
      signal,
      timedOut,
      stdout,
      stderrTail: stderr.trim().split('\n').slice(-5).join('\n'),
    };
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
