import type { ChalkInstance } from 'chalk';
import { formatDuration, oneLine } from '../units.js';
import type { CheckReport, ProbeReport } from './types.js';

export interface TableOptions {
  /** Colours for the stream the table goes to (none in a pipe, under NO_COLOR). */
  chalk: ChalkInstance;
  /** Leave out the warnings' details (the counts stay in the table). */
  quiet: boolean;
}

/** Failure lines shown before "and N more": a dead mirror of a large manifest is one line, not thousands. */
const MAX_FAILURE_LINES = 50;

/**
 * The human report: a verdict line, a table of endpoints (probes ok / warned / failed, median and
 * p95 time to first byte), then each failure with its reason and the warnings grouped by kind.
 */
export function formatCheck(report: CheckReport, options: TableOptions): string {
  const c = options.chalk;
  const { summary } = report;
  const name = oneLine(report.manifest.name ?? report.manifest.source);
  const probes = plural(summary.probes, 'probe');
  let verdict: string;
  if (report.interrupted) verdict = `${c.yellow('interrupted')} after ${probes}`;
  else if (summary.failed > 0) verdict = `${c.red('FAILED')}, ${summary.failed} of ${probes} failed`;
  else if (!report.ok)
    verdict = `${c.red('FAILED')} (--strict), ${summary.warnings} of ${probes} with warnings`;
  else if (summary.warnings > 0)
    verdict = `${c.green('ok')}, ${probes} passed, ${summary.warnings} with warnings`;
  else verdict = `${c.green('ok')}, ${probes} passed`;
  const fragments = `${plural(report.fragments.probed, 'fragment')}${
    report.fragments.probed < report.fragments.total ? ` of ${report.fragments.total}` : ''
  }`;
  const scope = `${fragments} on ${plural(report.endpoints.length, 'endpoint')}${report.deep ? ', deep' : ''}`;
  const lines = [
    `${c.bold(name)}: ${verdict} (${scope}, ${formatDuration(report.durationMs)})`,
    '',
    ...table(
      ['ENDPOINT', 'OK', 'WARN', 'FAILED', 'MEDIAN', 'P95'],
      report.endpoints.map((e) => [
        e.unreachable ? `${e.url} (unreachable)` : e.url,
        String(e.ok),
        String(e.warnings),
        String(e.failed),
        e.latency === null ? '-' : formatDuration(e.latency.medianMs),
        e.latency === null ? '-' : formatDuration(e.latency.p95Ms),
      ]),
    ),
  ];

  const failed = report.probes.filter((p) => p.outcome === 'failed');
  if (failed.length > 0) {
    lines.push('', c.red('failures:'));
    lines.push(...failureLines(failed, (code) => c.red(code)));
  }
  const warned = report.probes.filter((p) => p.findings.some((f) => f.severity === 'warning'));
  if (warned.length > 0 && !options.quiet) {
    lines.push('', c.yellow(report.strict ? 'warnings (failures with --strict):' : 'warnings:'));
    lines.push(...warningLines(warned, (code) => c.yellow(code)));
  }
  return `${lines.join('\n')}\n`;
}

/** One line per failed probe, except that the probes skipped on a dead endpoint share one. */
function failureLines(failed: readonly ProbeReport[], paint: (code: string) => string): string[] {
  const rows: string[][] = [];
  const skipped = new Map<string, number>();
  for (const probe of failed) {
    if (probe.skipped) {
      skipped.set(probe.endpoint, (skipped.get(probe.endpoint) ?? 0) + 1);
      continue;
    }
    for (const f of probe.findings.filter((x) => x.severity === 'failure'))
      rows.push([probe.id, probe.url, f.code, f.message]);
  }
  const shown = aligned(rows.slice(0, MAX_FAILURE_LINES), paint);
  if (rows.length > MAX_FAILURE_LINES)
    shown.push(`  ... and ${rows.length - MAX_FAILURE_LINES} more (see --json or --junit)`);
  for (const [endpoint, count] of skipped) {
    shown.push(`  ${plural(count, 'more fragment')} on ${endpoint} not probed: the endpoint is unreachable`);
  }
  return shown;
}

/** Warnings by endpoint and kind: a mirror that ignores ranges does so for every fragment. */
function warningLines(warned: readonly ProbeReport[], paint: (code: string) => string): string[] {
  const groups = new Map<string, { probe: ProbeReport; message: string; code: string; count: number }>();
  for (const probe of warned) {
    for (const f of probe.findings.filter((x) => x.severity === 'warning')) {
      const key = `${probe.endpoint}\n${f.code}`;
      const group = groups.get(key);
      if (group) group.count++;
      else groups.set(key, { probe, message: f.message, code: f.code, count: 1 });
    }
  }
  const rows = [...groups.values()].map(({ probe, message, code, count }) => {
    const more = count > 1 ? ` (and ${plural(count - 1, 'more fragment')} there)` : '';
    return [probe.id, probe.url, code, `${message}${more}`];
  });
  return aligned(rows, paint);
}

/** `id  url  CODE  message` rows with the first three columns aligned; the code painted after padding. */
function aligned(rows: readonly string[][], paint: (code: string) => string): string[] {
  const widths = [0, 1, 2].map((i) => Math.max(0, ...rows.map((r) => r[i]!.length)));
  return rows.map(([id, url, code, message]) =>
    `  ${id!.padEnd(widths[0]!)}  ${url!.padEnd(widths[1]!)}  ${paint(code!.padEnd(widths[2]!))}  ${message}`.trimEnd(),
  );
}

/** Left-aligned first column, right-aligned numbers. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (row: string[]) =>
    `  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`.trimEnd();
  return [format(header), ...rows.map(format)];
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
