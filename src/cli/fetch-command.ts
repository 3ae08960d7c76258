import { stripUrlAuth } from '../errors.js';
import { type FetchObserver, type FetchOptions, fetchManifest } from '../fetch/engine.js';
import type { FetchReport } from '../fetch/report.js';
import { loadManifest } from '../manifest/load.js';
import { defaultCacheDir } from './cache-dir.js';
import { type CliIO, EXIT } from './io.js';
import type { TransferFlags } from './options.js';
import { ProgressLine } from './progress-line.js';
import { formatSummary } from './summary.js';

/** Translates flags into engine options: the one place where CLI names meet engine names. */
export function fetchOptionsOf(flags: TransferFlags, io: CliIO): FetchOptions {
  return {
    cacheDir: flags.cache ?? defaultCacheDir(io.env),
    concurrency: flags.concurrency,
    retries: flags.retries,
    timeoutMs: flags.timeout,
    stallTimeoutMs: flags.stallTimeout,
    chunkSize: flags.chunkSize,
    splitThreshold: flags.splitThreshold,
    maxConnectionsPerObject: flags.connectionsPerObject,
    headers: flags.header ?? {},
    signal: io.signal,
    ...(flags.limitRate === undefined ? {} : { limitRate: flags.limitRate }),
  };
}

/** Observers for what the user asked to see: plain progress lines, `--verbose` request lines. */
export function observersFor(flags: TransferFlags, io: CliIO): { observer: FetchObserver; stop(): void } {
  const write = (line: string) => io.stderr.write(line);
  const progress = !flags.json && !flags.quiet && flags.progress ? new ProgressLine(write) : undefined;
  const observer: FetchObserver = {
    planned: (plan) => progress?.planned(plan),
    bytes: (fragment, url, bytes) => progress?.bytes(fragment, url, bytes),
    settled: () => progress?.settled(),
    ...(flags.verbose
      ? {
          request: (r) =>
            write(
              `GET ${stripUrlAuth(r.url)}${r.range ? ` ${r.range}` : ''} → ${r.status ?? '---'} ${r.bytes} B ${Math.round(r.ms)} ms${
                r.error instanceof Error ? ` (${r.error.message})` : ''
              }\n`,
            ),
          retry: (fragment, error, delayMs) =>
            write(
              `retry ${fragment.id} in ${Math.round(delayMs)} ms: ${error instanceof Error ? error.message : error}\n`,
            ),
        }
      : {}),
  };
  return { observer, stop: () => progress?.stop() };
}

export function exitCodeOf(report: FetchReport): number {
  if (report.interrupted) return EXIT.interrupted;
  return report.ok ? EXIT.ok : EXIT.failed;
}

/** Prints the report as JSON or as the human summary; returns the exit code. */
export function printReport(report: FetchReport, flags: TransferFlags, io: CliIO): number {
  if (flags.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(formatSummary(report, Boolean(io.stderr.isTTY) && !io.env.NO_COLOR));
  return exitCodeOf(report);
}

export async function fetchCommand(source: string, flags: TransferFlags, io: CliIO): Promise<number> {
  const options = fetchOptionsOf(flags, io);
  const manifest = await loadManifest(source, { headers: options.headers ?? {}, timeoutMs: flags.timeout });
  const { observer, stop } = observersFor(flags, io);
  try {
    const report = await fetchManifest(manifest, { ...options, observer });
    return printReport(report, flags, io);
  } finally {
    stop();
  }
}
