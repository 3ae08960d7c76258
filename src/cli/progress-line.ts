import type { RequestRecord } from '../fetch/context.js';
import type { FetchObserver, FetchPlan, SettledOutcome } from '../fetch/engine.js';
import type { Fragment } from '../manifest/fragment.js';
import { formatBytes, formatDuration, formatRate, plural } from '../units.js';
import { type ProgressSnapshot, ProgressState, percentOf } from './progress-state.js';

export const PROGRESS_LINE_INTERVAL_MS = 5000;

/**
 * Progress for logs and pipes: a plain line every few seconds, no `\r`, no colour, so a CI log reads
 * top to bottom (rclone's --stats-one-line is the model).
 */
export class ProgressLine implements FetchObserver {
  readonly #state: ProgressState;
  readonly #write: (line: string) => void;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    write: (line: string) => void,
    intervalMs = PROGRESS_LINE_INTERVAL_MS,
    state = new ProgressState(),
  ) {
    this.#write = write;
    this.#intervalMs = intervalMs;
    this.#state = state;
  }

  planned(plan: FetchPlan): void {
    this.#state.planned(plan);
    // Nothing to download (the summary says it all), or stopped already.
    if (plan.missing.length === 0 || this.#stopped) return;
    this.#timer = setInterval(
      () => this.#write(`${progressLine(this.#state.snapshot())}\n`),
      this.#intervalMs,
    );
    this.#timer.unref();
  }

  bytes(fragment: Fragment, url: string, bytes: number): void {
    this.#state.bytes(fragment, url, bytes);
  }

  retry(): void {
    this.#state.retry();
  }

  request(record: RequestRecord): void {
    this.#state.request(record);
  }

  settled(fragment: Fragment, outcome: SettledOutcome): void {
    this.#state.settled(fragment, outcome);
  }

  /** A line to print above everything else (`--verbose`): no bars to step around here. */
  log(line: string): void {
    this.#write(line);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** `fragfetch: 12/40 fragments (5 cached), 123.4 MiB of 274.0 MiB (45%), 45.2 MiB/s, ETA 3.4 s` */
export function progressLine(s: ProgressSnapshot): string {
  const notes = [
    s.cacheHits > 0 ? `${s.cacheHits} cached` : '',
    s.failed > 0 ? `${s.failed} failed` : '',
    s.retries > 0 ? plural(s.retries, 'retry') : '',
  ].filter(Boolean);
  const fragments = `${s.fragmentsDone}/${plural(s.fragmentsTotal, 'fragment')}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
  const percent = s.bytesTotal > 0 ? ` (${percentOf(s.bytesDone, s.bytesTotal)}%)` : '';
  const bytes = `${formatBytes(s.bytesDone)} of ${formatBytes(s.bytesTotal)}${percent}`;
  const eta = s.etaMs === undefined ? '' : `, ETA ${formatDuration(s.etaMs)}`;
  const mirrors = s.endpoints.length === 0 ? '' : `; ${endpointsText(s.endpoints)}`;
  return `fragfetch: ${fragments}, ${bytes}, ${formatRate(s.rate)}${eta}${mirrors}`;
}

/** `https://a.example 80.0 MiB/s, https://b.example 4.0 MiB/s (3 errors)`: each mirror's share now. */
export function endpointsText(endpoints: ProgressSnapshot['endpoints']): string {
  return endpoints
    .map(
      ({ url, rate, errors }) =>
        `${url} ${formatRate(rate)}${errors > 0 ? ` (${plural(errors, 'error')})` : ''}`,
    )
    .join(', ');
}
