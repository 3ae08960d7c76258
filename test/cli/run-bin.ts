/**
 * Runs the built binary the two ways a person meets it: in a pipe (CI logs, `| tee`) and on a
 * terminal, the latter through util-linux `script`, which gives the child a pseudo-terminal as its
 * stdin, stdout and stderr and copies everything it writes to our pipe.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { BIN } from '../support/cli.js';

export interface BinResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment every run starts from: the test runner's own colour and terminal settings removed,
 * a fixed width (help text wraps to it), so output depends on what a test sets and nothing else.
 */
export function cleanEnv(env: Record<string, string | undefined> = {}): Record<string, string> {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const name of ['FORCE_COLOR', 'NO_COLOR', 'CI', 'DEBUG', 'COLORTERM', 'FRAGFETCH_CACHE'])
    delete base[name];
  const merged = { ...base, TERM: 'xterm-256color', COLUMNS: '80', LINES: '40', ...env };
  return Object.fromEntries(
    Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

function collect(child: ReturnType<typeof spawn>): Promise<BinResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The binary with stdout and stderr piped: neither is a terminal. */
export function runPiped(argv: string[], env: Record<string, string | undefined> = {}): Promise<BinResult> {
  const child = spawn(process.execPath, [BIN, ...argv], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

/** POSIX shell quoting, for the command line `script` hands to `sh -c`. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The binary on a pseudo-terminal: `script -q` (no banner) `-f` (flush as written) `-e` (its exit
 * code is the child's) `-c cmd`, logging to /dev/null. Everything the terminal showed, stdout and
 * stderr together, comes back as `stdout`. `redirectStdout` sends the binary's stdout to a file
 * instead, leaving stderr on the terminal: how `fragfetch fetch m.json --json > report.json` runs.
 */
export function runOnTerminal(
  argv: string[],
  env: Record<string, string | undefined> = {},
  options: { redirectStdout?: string } = {},
): Promise<BinResult> {
  const words = [process.execPath, BIN, ...argv].map(shellQuote);
  const command =
    words.join(' ') + (options.redirectStdout ? ` > ${shellQuote(options.redirectStdout)}` : '');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

/**
 * The binary on a pseudo-terminal, with a keyboard: `type('\x03')` is Ctrl-C, which the terminal
 * turns into SIGINT for the binary, as for a person. `until(text)` waits for the screen to show it.
 */
export function startOnTerminal(argv: string[], env: Record<string, string | undefined> = {}) {
  const command = [process.execPath, BIN, ...argv].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: cleanEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    screen += chunk;
    for (const waiter of waiters.filter((w) => screen.includes(w.text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const done = new Promise<BinResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: screen, stderr: '' }));
  });
  return {
    screen: () => screen,
    type: (keys: string) => child.stdin.write(keys),
    until: (text: string) =>
      screen.includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ text, resolve })),
    done: done.finally(() => child.stdin.end()),
  };
}

/** What cli-progress writes and a plain log must never hold. */
// eslint-disable-next-line no-control-regex
export const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/;
// eslint-disable-next-line no-control-regex
export const SGR = /\x1b\[[0-9;]*m/;
/** Text as read on screen, without styling and cursor movement. */
export function plain(text: string): string {
  return text.replace(new RegExp(ANSI.source, 'g'), '');
}

/** cli-progress hides the cursor while bars are up, and shows it again when they stop. */
export const HIDE_CURSOR = '\x1b[?25l';
export const SHOW_CURSOR = '\x1b[?25h';

/** Every file under `dir` with its size and mtime: equal snapshots mean nothing was written. */
export async function treeOf(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string): Promise<void> => {
    const entries = await readdir(at, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(at, entry.name);
      const info = await stat(path);
      out.push(`${relative(dir, path)} ${entry.isDirectory() ? 'dir' : info.size} ${info.mtimeMs}`);
      if (entry.isDirectory()) await walk(path);
    }
  };
  await walk(dir);
  return out.sort();
}

/** Writes a manifest document to `dir/name.json` and returns its path. */
export async function writeManifest(dir: string, name: string, manifest: unknown): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  await writeFile(file, typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  return file;
}
