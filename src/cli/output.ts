import type { FetchReport } from '../fetch/report.js';
import { type CliIO, EXIT } from './io.js';
import type { TransferFlags } from './options.js';
import { formatSummary } from './summary.js';

export function exitCodeOf(report: FetchReport): number {
  if (report.interrupted) return EXIT.interrupted;
  return report.ok ? EXIT.ok : EXIT.failed;
}

/** Prints the report as JSON (stdout holds nothing else) or as the human summary; returns the exit code. */
export function printReport(report: FetchReport, flags: TransferFlags, io: CliIO): number {
  if (flags.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(formatSummary(report, Boolean(io.stderr.isTTY) && !io.env.NO_COLOR));
  return exitCodeOf(report);
}
