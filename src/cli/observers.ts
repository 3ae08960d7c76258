import { displayUrl, FragfetchError } from '../errors.js';
import type { RequestRecord } from '../fetch/context.js';
import type { FetchObserver } from '../fetch/engine.js';
import type { Fragment } from '../manifest/fragment.js';
import { formatBytes, formatDuration } from '../units.js';
import type { CliIO } from './io.js';
import type { TransferFlags } from './options.js';
import type { ProgressBars } from './progress-bars.js';
import { ProgressLine } from './progress-line.js';
import { chalkFor, isInteractive } from './terminal.js';

export interface Observers {
  observer: FetchObserver;
  /** Writes a whole line to stderr without tearing the progress bars. */
  log(line: string): void;
  /** Takes progress off the screen: call before printing the summary. */
  stop(): void;
}

type Display = ProgressBars | ProgressLine;

/**
 * Observers for what the user asked to see: bars on a terminal, a plain line every few seconds
 * elsewhere, nothing with --quiet or --no-progress; with --verbose one line per request and retry.
 * Everything goes to stderr, so stdout holds only the summary or the JSON report.
 */
export async function observersFor(flags: TransferFlags, io: CliIO): Promise<Observers> {
  const display = await displayFor(flags, io);
  const log = (line: string) => (display ? display.log(line) : io.stderr.write(line));
  const observer: FetchObserver = {};
  if (display) {
    observer.planned = (plan) => display.planned(plan);
    observer.bytes = (fragment, url, bytes) => display.bytes(fragment, url, bytes);
    observer.settled = (fragment, outcome) => display.settled(fragment, outcome);
  }
  if (display || flags.verbose) {
    observer.retry = (fragment, error, delayMs) => {
      display?.retry();
      if (flags.verbose) log(`${retryLine(fragment, error, delayMs)}\n`);
    };
  }
  if (display || flags.verbose) {
    observer.request = (record) => {
      display?.request(record);
      if (flags.verbose) log(`${requestLine(record)}\n`);
    };
  }
  // Ctrl-C: the bars go at once, so the "stopping" notice and the summary land on a clean screen
  // (main.ts aborts before it writes that notice; a redraw after it would overwrite it).
  const onAbort = () => display?.stop();
  io.signal.addEventListener('abort', onAbort, { once: true });
  const stop = () => {
    io.signal.removeEventListener('abort', onAbort);
    display?.stop();
  };
  return { observer, log, stop };
}

async function displayFor(flags: TransferFlags, io: CliIO): Promise<Display | undefined> {
  if (flags.quiet || !flags.progress) return undefined;
  const write = (line: string) => io.stderr.write(line);
  if (!isInteractive(io.stderr, io.env)) return new ProgressLine(write);
  // cli-progress is loaded only for a terminal: in CI and pipes it is ~30 ms of start for nothing.
  const { ProgressBars } = await import('./progress-bars.js');
  return new ProgressBars({ stream: io.stderr, env: io.env, chalk: chalkFor(io.stderr, io.env) });
}

/** `GET https://cdn/x/model.bin bytes=0-8388607 → 206 8.0 MiB 123 ms` (+ `: CODE message` on failure). */
export function requestLine(record: RequestRecord): string {
  // RequestRecord carries no method today: every request the engine records is a body GET. Read
  // one structurally, so a record that gains it (a HEAD or conditional revalidation) shows it.
  const method = (record as { method?: string }).method ?? 'GET';
  const range = record.range ? ` ${record.range}` : '';
  const status = record.status ?? '---';
  const error = record.error === undefined ? '' : `: ${describeError(record.error)}`;
  return `${method} ${displayUrl(record.url)}${range} → ${status} ${formatBytes(record.bytes)} ${Math.round(record.ms)} ms${error}`;
}

/** `retry layer.0 in 1.2 s: ESTALL no bytes for 30 s` */
export function retryLine(fragment: Fragment, error: unknown, delayMs: number): string {
  return `retry ${fragment.id} in ${formatDuration(delayMs)}: ${describeError(error)}`;
}

function describeError(error: unknown): string {
  if (error instanceof FragfetchError) return `${error.code} ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
