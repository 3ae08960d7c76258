import type { Command } from 'commander';
import { type FetchOptions, fetchManifest } from '../../fetch/engine.js';
import { loadManifest } from '../../manifest/load.js';
import { defaultCacheDir } from '../cache-dir.js';
import type { CliIO } from '../io.js';
import { observersFor } from '../observers.js';
import { type TransferFlags, transferOptions } from '../options.js';
import { printReport } from '../output.js';
import type { CommandContext } from './context.js';

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

export function registerFetch(program: Command, { io, setExit }: CommandContext): void {
  const command = program
    .command('fetch')
    .description('download every fragment of a manifest that is not cached yet')
    .argument('<manifest>', 'manifest file or http(s) URL');
  for (const option of transferOptions()) command.addOption(option);
  command
    .addHelpText(
      'after',
      `
Examples:
  $ fragfetch fetch model.json
  $ fragfetch fetch https://cdn.example.com/models/tiny/manifest.json -j 32 --limit-rate 200MiB
  $ fragfetch fetch model.json --json > report.json`,
    )
    .action(async (source: string, flags: TransferFlags) => setExit(await fetchCommand(source, flags, io)));
}
