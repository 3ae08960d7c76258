import type { FetchReport } from '../fetch/report.js';
import { type CliIO, EXIT } from './io.js';
import { formatSummary } from './summary.js';
import { chalkFor } from './terminal.js';

export function exitCodeOf(report: FetchReport): number {
  if (report.interrupted) return EXIT.interrupted;
  return report.ok ? EXIT.ok : EXIT.failed;
}

/** The one JSON document of `--json`: stdout holds it and nothing else. */
export function writeJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Prints the report as JSON or as the human summary (on stdout, coloured when stdout is a
 * terminal); returns the exit code. `--quiet` keeps the summary: it is short, and it is the answer.
 */
export function printReport(report: FetchReport, flags: { json?: boolean }, io: CliIO): number {
  if (flags.json) writeJson(io, report);
  else io.stdout.write(formatSummary(report, chalkFor(io.stdout, io.env)));
  return exitCodeOf(report);
}
