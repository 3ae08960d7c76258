import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/program.js';

export const BIN = fileURLToPath(new URL('../../bin/fragfetch.js', import.meta.url));

export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process through its seam, capturing what it writes. */
export async function runCli(
  argv: string[],
  options: { env?: Record<string, string | undefined>; signal?: AbortSignal } = {},
): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: false },
    env: options.env ?? { NO_COLOR: '1' },
    signal: options.signal ?? new AbortController().signal,
  });
  return { code, stdout, stderr };
}

/** Starts the built binary as a child process, as a user would. */
export function spawnCli(
  argv: string[],
  env: Record<string, string> = {},
): ChildProcess & { done: Promise<Captured> } {
  const child = spawn(process.execPath, [BIN, ...argv], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk));
  const done = new Promise<Captured>((resolve) => {
    child.on('close', (code, signal) =>
      resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : -1), stdout, stderr }),
    );
  });
  return Object.assign(child, { done });
}
