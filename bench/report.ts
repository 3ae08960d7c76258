/**
 * Results: medians per scenario and tool, the ratios of medians against fragfetch, fragfetch's peak
 * RSS, and each target met or missed; as JSON and as markdown tables.
 */
import { median } from './measure.js';
import { type MetricTarget, RSS_LIMIT_KIB, type Scenario } from './scenarios.js';
import { PROBE_FILES, type SettleResult } from './settle.js';
import { describeTraffic, type Traffic } from './traffic.js';
import type { Verdict } from './verdict.js';

/** One timed run: what was measured, and the verdict on what it did. */
export interface RunRecord extends Verdict {
  round: number;
  seconds: number;
  rssKiB: number | null;
  /** What the server saw of the run: protocols, connections. */
  traffic?: Traffic;
}

export interface RowResult {
  id: string;
  tool: string;
  label: string;
  command?: string;
  skip?: string;
  runs: RunRecord[];
  okRuns: number;
  medianSeconds: number | null;
  minSeconds: number | null;
  maxSeconds: number | null;
  medianRssMiB: number | null;
  maxRssMiB: number | null;
  /** median(fragfetch) / median(this row), for the other tools. */
  fragfetchRatio: number | null;
  /** What the server saw of the row's last run, e.g. `HTTP/2.0 TLSv1.3 ×64, 1 connection`. */
  wire?: string;
}

export interface TargetResult {
  label: string;
  /** A ratio (×), MiB, a count of runs that satisfied a condition, or a metric's median. */
  value: number | null;
  unit: '×' | 'MiB' | 'runs' | MetricTarget['unit'];
  limit: number | null;
  met: boolean | null;
  note?: string;
}

export interface ScenarioResult {
  name: string;
  description: string;
  files: number;
  bytes: number;
  rows: RowResult[];
  targets: TargetResult[];
  /** How fast files could be created before the scenario's first run (settle.ts). */
  fileSystem?: SettleResult;
}

export interface MachineInfo {
  hostname: string;
  cpus: number;
  cpuModel: string;
  memTotalGiB: number;
  os: string;
  node: string;
  server: string;
  curl: string;
  aria2c: string;
  gnuTime: boolean;
  /** The file system the runs write to (file-system.ts), when it could be told. */
  outputFileSystem?: string;
  /** 1, 5 and 15 minute load averages when the run began and ended. */
  load?: { before: number[]; after: number[] };
}

export interface BenchResults {
  date: string;
  fragfetch: string;
  machine: MachineInfo;
  server: { kind: string; description: string; note?: string };
  rounds: number;
  scenarios: ScenarioResult[];
  notes: string[];
}

const MiB = 1024;

export function summariseRow(
  row: { id: string; tool: string; label: string; skip?: string },
  runs: RunRecord[],
  command: string | undefined,
): RowResult {
  const ok = runs.filter((run) => run.ok);
  const seconds = ok.map((run) => run.seconds);
  const rss = runs.map((run) => run.rssKiB).filter((value): value is number => value !== null);
  const medianRss = median(rss);
  const traffic = runs.at(-1)?.traffic;
  return {
    id: row.id,
    tool: row.tool,
    label: row.label,
    ...(command === undefined ? {} : { command }),
    ...(row.skip === undefined ? {} : { skip: row.skip }),
    runs,
    okRuns: ok.length,
    medianSeconds: median(seconds),
    minSeconds: seconds.length ? Math.min(...seconds) : null,
    maxSeconds: seconds.length ? Math.max(...seconds) : null,
    medianRssMiB: medianRss === null ? null : medianRss / MiB,
    maxRssMiB: rss.length ? Math.max(...rss) / MiB : null,
    fragfetchRatio: null,
    ...(traffic ? { wire: describeTraffic(traffic) } : {}),
  };
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a == null || b == null || b === 0 ? null : a / b;
}

/** Fills in the ratios and evaluates the scenario's targets, the RSS target and its conditions. */
export function evaluate(scenario: Scenario, rows: RowResult[]): ScenarioResult {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const reference = byId.get('fragfetch')?.medianSeconds;
  for (const row of rows) {
    if (row.tool !== 'fragfetch') row.fragfetchRatio = ratio(reference, row.medianSeconds);
  }
  const targets: TargetResult[] = scenario.targets.map((target) => {
    if ('metric' in target) return metricResult(target, byId.get(target.row));
    const numerator = byId.get(target.numerator);
    const denominator = byId.get(target.denominator);
    const value = ratio(numerator?.medianSeconds, denominator?.medianSeconds);
    const missing = [numerator, denominator].find(
      (row) => row?.skip !== undefined || row?.medianSeconds == null,
    );
    return {
      label: target.label,
      value,
      unit: '×',
      limit: target.limit ?? null,
      met: value === null || target.limit === undefined ? null : value <= target.limit,
      ...(value === null && missing
        ? {
            note: `not measured: ${missing.label}${missing.skip ? ` (${missing.skip})` : ' had no successful run'}`,
          }
        : {}),
    };
  });
  const fragfetchRows = rows.filter((row) => row.tool === 'fragfetch');
  const peaks = fragfetchRows.map((row) => row.maxRssMiB).filter((value): value is number => value !== null);
  const peak = peaks.length ? Math.max(...peaks) : null;
  const rssLimit = scenario.rssLimitMiB ?? RSS_LIMIT_KIB / MiB;
  targets.push({
    label: `fragfetch peak RSS ≤ ${rssLimit} MiB`,
    value: peak,
    unit: 'MiB',
    limit: rssLimit,
    met: peak === null ? null : peak <= rssLimit,
    ...(peak === null ? { note: 'not measured: /usr/bin/time (GNU time) is not installed' } : {}),
  });
  for (const id of scenario.rssRows ?? []) {
    const row = byId.get(id);
    const value = row?.maxRssMiB ?? null;
    targets.push({
      label: `${row?.label ?? id}: peak RSS ≤ ${rssLimit} MiB, every run`,
      value,
      unit: 'MiB',
      limit: rssLimit,
      met: value === null ? null : value <= rssLimit,
      ...(value === null ? { note: `not measured: ${row ? 'no peak RSS' : `no row ${id}`}` } : {}),
    });
  }
  for (const condition of scenario.conditions) {
    const row = byId.get(condition.row);
    const runs = row?.runs ?? [];
    const good = runs.filter((run) => run.ok).length;
    targets.push({
      label: condition.label,
      value: good,
      unit: 'runs',
      limit: runs.length,
      met: runs.length > 0 && good === runs.length,
    });
  }
  return {
    name: scenario.name,
    description: scenario.description,
    files: scenario.files,
    bytes: scenario.bytes,
    rows,
    targets,
  };
}

/** The median of the metric over the row's successful runs, against its bound. */
function metricResult(target: MetricTarget, row: RowResult | undefined): TargetResult {
  const values = (row?.runs ?? [])
    .filter((run) => run.ok)
    .map((run) => run.metrics?.[target.metric])
    .filter((value): value is number => value !== undefined);
  const value = median(values);
  const limit = target.atLeast ?? target.atMost ?? null;
  const met =
    value === null || limit === null ? null : target.atLeast !== undefined ? value >= limit : value <= limit;
  const why = !row
    ? `no row ${target.row}`
    : row.skip
      ? `${row.label} (${row.skip})`
      : `${row.label} had no successful run`;
  return {
    label: target.label,
    value,
    unit: target.unit,
    limit,
    met,
    ...(value === null ? { note: `not measured: ${why}` } : {}),
  };
}

const fixed = (value: number, digits: number) => value.toFixed(digits);

function seconds(value: number | null): string {
  if (value === null) return 'n/a';
  return value < 10 ? `${fixed(value, 2)} s` : `${fixed(value, 1)} s`;
}

function formatValue(target: TargetResult): string {
  if (target.value === null) return 'n/a';
  if (target.unit === '×') return `${fixed(target.value, 2)} ×`;
  if (target.unit === 'MiB') return `${fixed(target.value, 0)} MiB`;
  if (target.unit === '%') return `${fixed(target.value, 1)} %`;
  if (target.unit === 'MiB/s') return `${fixed(target.value, 1)} MiB/s`;
  if (target.unit === 's') return seconds(target.value);
  return `${target.value}/${target.limit} runs`;
}

function verdict(target: TargetResult): string {
  if (target.limit === null) return '—';
  if (target.met === null) return 'n/a';
  return target.met ? 'met' : '**MISSED**';
}

export function markdownTables(results: BenchResults): string {
  const lines: string[] = [];
  lines.push(
    '| scenario | tool | median | min – max | ok runs | fragfetch ÷ tool | peak RSS (max) | the server saw (last run) |',
  );
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const scenario of results.scenarios) {
    for (const row of scenario.rows) {
      const name = `${scenario.name}`;
      if (row.skip) {
        lines.push(`| ${name} | ${row.label} | n/a | | | | ${row.skip.replace(/\|/g, '\\|')} | |`);
        continue;
      }
      const range =
        row.minSeconds === null || row.maxSeconds === null
          ? ''
          : `${fixed(row.minSeconds, 2)} – ${fixed(row.maxSeconds, 2)}`;
      const rowRatio =
        row.fragfetchRatio === null
          ? row.tool === 'fragfetch'
            ? '—'
            : 'n/a'
          : `${fixed(row.fragfetchRatio, 2)} ×`;
      const rss = row.maxRssMiB === null ? 'n/a' : `${fixed(row.maxRssMiB, 0)} MiB`;
      lines.push(
        `| ${name} | ${row.label} | ${seconds(row.medianSeconds)} | ${range} | ${row.okRuns}/${row.runs.length} | ${rowRatio} | ${rss} | ${row.wire ?? ''} |`,
      );
    }
  }
  lines.push('');
  lines.push('| scenario | target | measured | result |');
  lines.push('| --- | --- | ---: | --- |');
  for (const scenario of results.scenarios) {
    for (const target of scenario.targets) {
      const note = target.note ? ` (${target.note})` : '';
      lines.push(
        `| ${scenario.name} | ${target.label} | ${formatValue(target)} | ${verdict(target)}${note} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function fileSystemText(fs: SettleResult | undefined): string {
  if (!fs) return '';
  const waited = fs.waitedSeconds > 0 ? `, after waiting ${fs.waitedSeconds} s` : '';
  return `; before it, ${PROBE_FILES} empty files created in ${fixed(fs.probeMs, 0)} ms${waited}${fs.settled ? '' : ' (not settled)'}`;
}

export function markdownReport(results: BenchResults): string {
  const m = results.machine;
  const head = [
    `Run of ${results.date}: fragfetch ${results.fragfetch}, ${results.rounds} rounds, medians.`,
    `Machine: ${m.hostname}, ${m.cpus} × ${m.cpuModel}, ${fixed(m.memTotalGiB, 1)} GiB RAM, ${m.os}, node ${m.node}.`,
    `Server: ${results.server.description}${results.server.note ? ` (${results.server.note})` : ''}. curl: ${m.curl}. aria2c: ${m.aria2c}.`,
    ...(m.outputFileSystem ? [`Every tool writes to: ${m.outputFileSystem}.`] : []),
    ...(m.load
      ? [
          `Load average (1, 5, 15 min): ${loadText(m.load.before)} at the start, ${loadText(m.load.after)} at the end.`,
        ]
      : []),
    '',
    ...results.scenarios.map((s) => `- **${s.name}**: ${s.description}${fileSystemText(s.fileSystem)}`),
    '',
  ];
  const notes = results.notes.length ? ['', ...results.notes.map((note) => `- ${note}`), ''] : [];
  return `${head.join('\n')}\n${markdownTables(results)}${notes.join('\n')}`;
}

function loadText(load: number[]): string {
  return load.map((value) => value.toFixed(2)).join(' ');
}
