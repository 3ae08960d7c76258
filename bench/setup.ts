/**
 * What a run needs before it starts: the tools (installed with apt-get when run as root), and what
 * is recorded about the machine and the build being measured.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { hasGnuTime } from './measure.js';
import { findNginx } from './nginx.js';
import type { MachineInfo } from './report.js';
import type { BenchServer } from './server.js';
import type { probeTools } from './tools.js';

const execFileAsync = promisify(execFile);
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

export async function commandExists(command: string, args: string[] = ['--version']): Promise<boolean> {
  try {
    await execFileAsync(command, args);
    return true;
  } catch {
    return false;
  }
}

/** As root, installs what is missing with apt-get; otherwise says what the run will do without it. */
export async function ensureTools(allowInstall: boolean, notes: string[]): Promise<void> {
  const missing: string[] = [];
  if (!(await findNginx())) missing.push('nginx-light');
  if (!(await commandExists('aria2c'))) missing.push('aria2');
  if (!(await hasGnuTime())) missing.push('time');
  if (!(await commandExists('curl'))) missing.push('curl');
  if (missing.length === 0) return;
  const root = process.getuid?.() === 0;
  const apt = await commandExists('apt-get', ['--version']);
  if (!allowInstall || !root || !apt) {
    const why = !allowInstall ? '--no-install' : !root ? 'not root' : 'no apt-get';
    notes.push(`not installed (${why}): ${missing.join(', ')}; the comparisons that need them are skipped`);
    log(`missing ${missing.join(', ')} and not installing them (${why})`);
    return;
  }
  const install = (args: string[]) =>
    new Promise<number>((resolve) => {
      const child = spawn('apt-get', args, {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      child.once('error', () => resolve(1));
      child.once('close', (code) => resolve(code ?? 1));
    });
  log(`installing ${missing.join(', ')} with apt-get`);
  let code = await install(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  if (code !== 0) {
    await install(['update', '-qq']);
    code = await install(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  }
  if (code !== 0)
    notes.push(`apt-get install ${missing.join(' ')} failed; the comparisons that need them are skipped`);
}

export async function fragfetchVersion(projectRoot: string): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  try {
    const { stdout: head } = await execFileAsync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: projectRoot,
    });
    const { stdout: status } = await execFileAsync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: projectRoot,
    });
    return `${pkg.version} (${head.trim()}${status.trim() ? ' + uncommitted changes in src/' : ''})`;
  } catch {
    return pkg.version;
  }
}

export function machineInfo(
  server: BenchServer,
  tools: Awaited<ReturnType<typeof probeTools>>,
  gnuTime: boolean,
): MachineInfo {
  return {
    hostname: os.hostname(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    memTotalGiB: os.totalmem() / 1024 ** 3,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    server: server.description,
    curl: tools.curl.version,
    aria2c: tools.aria2c.version,
    gnuTime,
  };
}

/** Lets writeback of the previous run's files finish, so it is not billed to the next run. */
export function sync(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('sync', { stdio: 'ignore' });
    child.once('error', () => resolve());
    child.once('close', () => resolve());
  });
}
