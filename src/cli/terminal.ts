import { Chalk, type ChalkInstance } from 'chalk';

/**
 * Every colour and terminal decision of the CLI, in one place. A decision is made per stream (the
 * summary goes to stdout, progress to stderr) and from the environment the CLI was given, never from
 * `process`, so tests can drive it through a fake io.
 */

/** What a stream may tell of itself; node's tty.WriteStream has all of it, a pipe or a test fake less. */
export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  getColorDepth?(env?: Record<string, string | undefined>): number;
}

export type Env = Record<string, string | undefined>;
export type ColorLevel = 0 | 1 | 2 | 3;

/**
 * Whether the stream can redraw in place (bars, `\r`, cursor moves): a terminal other than a `dumb`
 * one. Everything else (CI logs, pipes, files) gets plain lines.
 */
export function isInteractive(stream: OutputStream, env: Env): boolean {
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/**
 * chalk's rules: FORCE_COLOR wins (`0`/`false` off, empty/`true` basic, `1`-`3` that level, even in a
 * pipe); then NO_COLOR (any non-empty value, no-color.org), which chalk's own detection ignores; then
 * no colour unless the stream is a terminal; then what the terminal supports.
 */
export function colorLevel(stream: OutputStream, env: Env): ColorLevel {
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '' || force === 'true') return 1;
    if (force === 'false') return 0;
    const level = Number.parseInt(force, 10);
    return Number.isNaN(level) ? 1 : (Math.max(0, Math.min(level, 3)) as ColorLevel);
  }
  if (env.NO_COLOR) return 0;
  if (!isInteractive(stream, env)) return 0;
  // A real terminal knows its depth (and reads TERM, COLORTERM, CI from the env we pass).
  if (typeof stream.getColorDepth === 'function') return depthToLevel(stream.getColorDepth(env));
  return 1;
}

function depthToLevel(depth: number): ColorLevel {
  if (depth >= 24) return 3;
  if (depth >= 8) return 2;
  if (depth >= 4) return 1;
  return 0;
}

/** A chalk instance for text written to `stream`. */
export function chalkFor(stream: OutputStream, env: Env): ChalkInstance {
  return new Chalk({ level: colorLevel(stream, env) });
}

/** Columns available on the stream: its own width, else $COLUMNS, else 80. */
export function widthOf(stream: OutputStream, env: Env): number {
  if (stream.isTTY && stream.columns && stream.columns > 0) return stream.columns;
  const columns = Number(env.COLUMNS);
  return Number.isSafeInteger(columns) && columns > 0 ? columns : 80;
}
