/** Where a command writes and what it may know of its terminal: the seam that tests replace. */
export interface CliIO {
  /** Text, or UTF-8 chunks of whole characters (a `--json` document written in chunks). */
  stdout: { write(text: string | Uint8Array): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
}

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  interrupted: 130,
} as const;
