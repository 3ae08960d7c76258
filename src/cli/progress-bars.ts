import type { RequestRecord } from '../fetch/context.js';
import type { ChalkInstance } from 'chalk';
import { MultiBar, type SingleBar } from 'cli-progress';
import type { FetchObserver, FetchPlan, SettledOutcome } from '../fetch/engine.js';
import type { Fragment } from '../manifest/fragment.js';
import { formatBytes, formatDuration, formatRate, plural } from '../units.js';
import { endpointsText } from './progress-line.js';
import { type InFlight, type ProgressSnapshot, ProgressState, percentOf } from './progress-state.js';
import { type Env, type OutputStream, widthOf } from './terminal.js';

export interface ProgressBarsOptions {
  stream: OutputStream;
  env: Env;
  chalk: ChalkInstance;
  /** Redraws per second, at most. */
  fps?: number; // 10
  /** Bars for fragments in flight, under the overall one. */
  maxFragmentBars?: number; // 4
}

const FILLED = '█';
/**
 * A short bar rather than fewer numbers: the percent beside it says as much. With it, the run's line
 * keeps every number (cache hits included) on an 80-column terminal.
 */
const MIN_BAR = 6;
const EMPTY = '░';

/**
 * Bars on a terminal: one for the run, and one for each of the largest fragments in flight.
 *
 *   ████████████░░░░░░░░  58%  148.2 MiB/256.0 MiB  41.7 MiB/s  ETA 2.6 s  9/16 fragments  3 cached
 *     model.bin#0         ██████████░░░░░░  61%  39.0 MiB/64.0 MiB
 *     model.bin#67108864  ████░░░░░░░░░░░░  24%  15.4 MiB/64.0 MiB
 *
 * Events only count (ProgressState); a timer turns the counts into lines `fps` times a second and
 * cli-progress redraws the lines that changed. So the cost per received chunk is an addition.
 */
export class ProgressBars implements FetchObserver {
  readonly #state = new ProgressState();
  readonly #options: Required<ProgressBarsOptions>;
  #multibar: MultiBar | undefined;
  #overall: SingleBar | undefined;
  #mirrors: SingleBar | undefined;
  readonly #fragmentBars: SingleBar[] = [];
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Restores the cursor even when the process exits under us (a second Ctrl-C). */
  readonly #onExit = () => this.#multibar?.stop();

  constructor(options: ProgressBarsOptions) {
    this.#options = { fps: 10, maxFragmentBars: 4, ...options };
  }

  planned(plan: FetchPlan): void {
    this.#state.planned(plan);
    // Nothing to download, or stopped already (Ctrl-C while the cache was being read).
    if (plan.missing.length === 0 || this.#stopped) return;
    this.#multibar = new MultiBar({
      // cli-progress only needs write, isTTY and columns of a stream.
      stream: this.#options.stream as unknown as NodeJS.WritableStream,
      fps: this.#options.fps,
      hideCursor: true,
      clearOnComplete: true,
      // Our lines are made whole in #draw; cli-progress only places them.
      format: (_options, _params, payload: { line?: string }) => payload.line ?? '',
    });
    this.#overall = this.#multibar.create(1, 0, { line: '' });
    // Each mirror's rate, under the run's line: where the bytes come from is the news with mirrors.
    if (plan.missing.some((fragment) => fragment.urls.length > 1))
      this.#mirrors = this.#multibar.create(1, 0, { line: '' });
    process.once('exit', this.#onExit);
    this.#timer = setInterval(() => this.#draw(), Math.ceil(1000 / this.#options.fps));
    this.#timer.unref();
    this.#draw();
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

  /** Prints a whole line above the bars (they redraw under it). */
  log(line: string): void {
    if (this.#multibar?.isActive) this.#multibar.log(line);
    else this.#options.stream.write(line);
  }

  /** Takes the bars off the screen (and flushes pending log lines): call before printing the summary. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    process.off('exit', this.#onExit);
    const multibar = this.#multibar;
    this.#multibar = undefined;
    if (!multibar) return;
    multibar.update();
    multibar.stop();
  }

  #draw(): void {
    const multibar = this.#multibar;
    if (!multibar || !this.#overall) return;
    const snapshot = this.#state.snapshot();
    // One column spare: writing the last column makes some terminals wrap.
    const width = widthOf(this.#options.stream, this.#options.env) - 1;
    this.#overall.update({ line: overallLine(snapshot, width, this.#options.chalk) });
    this.#mirrors?.update({ line: clip(`  ${endpointsText(snapshot.endpoints)}`, width) });

    const shown = snapshot.inFlight.slice(0, this.#options.maxFragmentBars);
    while (this.#fragmentBars.length > shown.length) multibar.remove(this.#fragmentBars.pop()!);
    while (this.#fragmentBars.length < shown.length)
      this.#fragmentBars.push(multibar.create(1, 0, { line: '' }));
    const idWidth = Math.min(24, Math.max(0, ...shown.map((f) => f.fragment.id.length)));
    shown.forEach((entry, i) => {
      this.#fragmentBars[i]!.update({ line: fragmentLine(entry, idWidth, width, this.#options.chalk) });
    });
  }
}

/** The run's line: bar, then as many of the numbers as fit, most telling first. */
export function overallLine(s: ProgressSnapshot, width: number, c: ChalkInstance): string {
  const percent = percentOf(s.bytesDone, s.bytesTotal);
  const parts: [plain: string, styled: string][] = [
    [`${String(percent).padStart(3)}%`, c.bold(`${String(percent).padStart(3)}%`)],
    [bytesOf(s.bytesDone, s.bytesTotal), ''],
    [formatRate(s.rate), ''],
    [s.etaMs === undefined ? 'ETA --' : `ETA ${formatDuration(s.etaMs)}`, ''],
    [`${s.fragmentsDone}/${plural(s.fragmentsTotal, 'fragment')}`, ''],
  ];
  // Shown at zero too: "0 cached" on a run that was expected to be warm is the news.
  parts.push([`${s.cacheHits} cached`, s.cacheHits > 0 ? c.green(`${s.cacheHits} cached`) : '']);
  if (s.failed > 0) parts.push([`${s.failed} failed`, c.red(`${s.failed} failed`)]);
  if (s.retries > 0) {
    const text = plural(s.retries, 'retry');
    parts.push([text, c.yellow(text)]);
  }
  return withBar(s.bytesDone, s.bytesTotal, '', parts, width, 40, c);
}

/** A fragment's line, indented under the run's: id, bar, percent, bytes. */
export function fragmentLine(entry: InFlight, idWidth: number, width: number, c: ChalkInstance): string {
  const { fragment, bytes } = entry;
  const id = fitText(fragment.id, idWidth).padEnd(idWidth);
  const label = `  ${id}  `;
  if (fragment.size === undefined) return clip(`${label}${formatBytes(bytes)}`, width);
  const done = Math.min(bytes, fragment.size);
  const percent = percentOf(done, fragment.size);
  const parts: [string, string][] = [
    [`${String(percent).padStart(3)}%`, ''],
    [bytesOf(done, fragment.size), c.dim(bytesOf(done, fragment.size))],
  ];
  return withBar(done, fragment.size, label, parts, width, 24, c);
}

/**
 * `label` + bar + parts, two spaces apart, within `width` columns: parts are dropped from the end
 * until the bar has at least MIN_BAR columns; the bar takes what is left, up to `maxBar`.
 */
function withBar(
  done: number,
  total: number,
  label: string,
  parts: [plain: string, styled: string][],
  width: number,
  maxBar: number,
  c: ChalkInstance,
): string {
  const kept = [...parts];
  const textWidth = () => label.length + kept.reduce((sum, [plain]) => sum + 2 + plain.length, 0);
  while (kept.length > 0 && width - textWidth() < MIN_BAR) kept.pop();
  const barWidth = Math.max(0, Math.min(maxBar, width - textWidth()));
  if (barWidth < 4) return clip(label, width);
  const filled = total > 0 ? Math.min(barWidth, Math.floor((done / total) * barWidth)) : barWidth;
  const bar = c.cyan(FILLED.repeat(filled)) + c.dim(EMPTY.repeat(barWidth - filled));
  return label + bar + kept.map(([plain, styled]) => `  ${styled || plain}`).join('');
}

/** `148.0/256.0 MiB`, or `900.0 KiB/1.2 MiB` when the units differ: four columns saved. */
function bytesOf(done: number, total: number): string {
  const [doneText, totalText] = [formatBytes(done), formatBytes(total)];
  const unit = totalText.slice(totalText.indexOf(' '));
  return doneText.endsWith(unit)
    ? `${doneText.slice(0, -unit.length)}/${totalText}`
    : `${doneText}/${totalText}`;
}

/**
 * A label too long for `width` loses its middle: the start says which tensor or file, the end which
 * part (`model.layers.12…j.weight`). The first number (a layer's, a shard's) is kept whole when it
 * ends within the first two thirds, where a plain half-and-half cut would split it.
 */
export function fitText(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return '…'.slice(0, Math.max(0, width));
  const room = width - 1;
  let head = Math.ceil(room / 2);
  const number = /\d+/.exec(text);
  const numberEnd = number ? number.index + number[0].length : 0;
  if (numberEnd > head && numberEnd <= Math.ceil((room * 2) / 3)) head = numberEnd;
  return `${text.slice(0, head)}…${text.slice(text.length - (room - head))}`;
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : text.slice(0, Math.max(0, width));
}
