import type { Command } from 'commander';
import { type FetchOptions, fetchManifest } from '../../fetch/engine.js';
import type { FetchReport } from '../../fetch/report.js';
import { loadManifest } from '../../manifest/load.js';
import { defaultCacheDir } from '../cache-dir.js';
import {
  assertManifestReachable,
  type CacheFlags,
  cacheFetchOptions,
  cacheModeOptions,
} from '../cache-options.js';
import { planFor, printFetchPlan } from '../dry-run.js';
import type { CliIO } from '../io.js';
import { networkOf } from '../network.js';
import { observersFor } from '../observers.js';
import { dryRunOption, type TransferFlags, transferOptions } from '../options.js';
import { printReport } from '../output.js';
import type { CommandContext } from './context.js';

/** Translates flags into engine options: the one place where CLI names meet engine names. */
export function fetchOptionsOf(flags: TransferFlags, io: CliIO): FetchOptions {
  return {
    cacheDir: flags.cache ?? defaultCacheDir(io.env),
    concurrency: flags.concurrency,
    maxConnections: flags.maxConnections,
    retries: flags.retries,
    timeoutMs: flags.timeout,
    stallTimeoutMs: flags.stallTimeout,
    chunkSize: flags.chunkSize,
    splitThreshold: flags.splitThreshold,
    maxConnectionsPerObject: flags.connectionsPerObject,
    endpointOrder: flags.endpointOrder,
    headers: flags.header ?? {},
    network: networkOf(flags, io),
    signal: io.signal,
    ...(flags.limitRate === undefined ? {} : { limitRate: flags.limitRate }),
    ...(flags.minSpeed === undefined ? {} : { minSpeed: flags.minSpeed }),
    ...(flags.minSpeedTime === undefined ? {} : { minSpeedTimeMs: flags.minSpeedTime }),
  };
}

export async function fetchCommand(
  source: string,
  flags: TransferFlags & CacheFlags,
  io: CliIO,
): Promise<number> {
  const options = fetchOptionsOf(flags, io);
  assertManifestReachable(source, flags);
  const cacheOptions = cacheFetchOptions(flags, io.env);
  const manifest = await loadManifest(source, {
    headers: options.headers ?? {},
    timeoutMs: flags.timeout,
    network: options.network,
  });
  if (flags.dryRun) {
    const plan = await planFor(manifest, options.cacheDir);
    return printFetchPlan(manifest, plan, { cacheDir: options.cacheDir, json: flags.json }, io);
  }
  const { observer, log, stop } = await observersFor(flags, io);
  observer.warn ??= (message) => log(`fragfetch: warning: ${message}\n`);
  let report: FetchReport;
  try {
    report = await fetchManifest(manifest, { ...options, ...cacheOptions, observer });
  } finally {
    // Bars off the screen before anything else is printed.
    stop();
  }
  return printReport(report, flags, io);
}

export function registerFetch(program: Command, { io, setExit }: CommandContext): void {
  const command = program
    .command('fetch')
    .summary('download the fragments of a manifest into the cache')
    .description(
      'Download every fragment of a manifest that is not cached yet, most urgent first, and print statistics.',
    )
    .argument('<manifest>', 'manifest file or http(s) URL');
  for (const option of transferOptions()) command.addOption(option);
  command.addOption(dryRunOption());
  for (const option of cacheModeOptions()) command.addOption(option);
  command
    .addHelpText(
      'after',
      `
Examples:
  $ fragfetch fetch model.json
  $ fragfetch fetch https://cdn.example.com/models/tiny/manifest.json -j 32 --limit-rate 200MiB
  $ fragfetch fetch model.json --json > report.json`,
    )
    .action(async (source: string, flags: TransferFlags & CacheFlags) =>
      setExit(await fetchCommand(source, flags, io)),
    );
}
