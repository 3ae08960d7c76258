import { type Command, Option } from 'commander';
import { loadManifest } from '../../manifest/load.js';
import type { MirrorReport } from '../../mirror/report.js';
import { formatBytes, plural } from '../../units.js';
import {
  assertManifestReachable,
  type CacheFlags,
  cacheFetchOptions,
  cacheModeOptions,
} from '../cache-options.js';
import { formatPlan, planDocument, planFor, planReport } from '../dry-run.js';
import { type CliIO, EXIT } from '../io.js';
import { writeJsonDocument } from '../json-stream.js';
import { formatMirrorPlan, mirrorPlanDocument, mirrorPlanReport } from '../mirror-plan.js';
import { observersFor } from '../observers.js';
import { dryRunOption, type TransferFlags, transferOptions } from '../options.js';
import { exitCodeOf, writeJson } from '../output.js';
import { formatSummary } from '../summary.js';
import { chalkFor } from '../terminal.js';
import type { CommandContext } from './context.js';
import { fetchOptionsOf } from './fetch.js';

export interface MirrorFlags extends TransferFlags, CacheFlags {
  hardlink?: boolean;
  delete?: boolean;
  checksum?: boolean;
}

export async function mirrorCommand(
  source: string,
  dir: string,
  flags: MirrorFlags,
  io: CliIO,
): Promise<number> {
  const options = fetchOptionsOf(flags, io);
  assertManifestReachable(source, flags);
  // The size bound is applied here, after the files are written, so it keeps the whole manifest.
  const { maxCacheSize, ...cacheOptions } = cacheFetchOptions(flags, io.env);
  const manifest = await loadManifest(source, {
    headers: options.headers ?? {},
    timeoutMs: flags.timeout,
    network: options.network,
  });
  if (flags.dryRun) return dryRun(manifest, dir, flags, options.cacheDir, io);
  const { observer, log, stop } = await observersFor(flags, io);
  observer.warn ??= (message) => log(`fragfetch: warning: ${message}\n`);
  let report: MirrorReport;
  try {
    // Loaded by the command that runs it, not by every start of the CLI.
    const { mirrorManifest } = await import('../../mirror/run.js');
    report = await mirrorManifest(manifest, dir, {
      ...options,
      ...cacheOptions,
      observer,
      ...(flags.hardlink ? { hardlink: true } : {}),
      ...(flags.delete ? { delete: true } : {}),
      ...(flags.checksum ? { checksum: true } : {}),
      // The list comes before anything is fetched, written or removed, as `rsync --delete` shows it.
      onDeletePlan: (paths) => {
        if (flags.quiet || paths.length === 0) return;
        log(`will delete ${plural(paths.length, 'file')} not in the manifest:\n`);
        for (const path of paths) log(`  ${path}\n`);
      },
    });
    if (maxCacheSize !== undefined && !io.signal.aborted) {
      const { enforceMaxCacheSize } = await import('../../cache/maintain.js');
      await enforceMaxCacheSize(options.cacheDir, maxCacheSize, [manifest]).catch((error: unknown) =>
        observer.warn?.(`cannot prune the cache to --max-cache-size: ${(error as Error).message}`),
      );
    }
  } finally {
    stop();
  }
  if (flags.json) writeJson(io, report);
  else io.stdout.write(formatSummary(report, chalkFor(io.stdout, io.env)) + formatMirror(report));
  return exitCodeOf(report);
}

/**
 * `mirror: 3 files written (12.0 MiB), 1 file repaired: 2.0 MiB of 64.0 MiB rewritten, 5 up to date
 * (1.2 GiB), 1 deleted, in /srv/models/tiny`
 */
export function formatMirror(report: MirrorReport): string {
  const m = report.mirror;
  const parts = [
    `${plural(m.files.written, 'file')} written (${formatBytes(m.bytes.written)}${m.hardlinked > 0 ? `, ${m.hardlinked} hard-linked` : ''})`,
  ];
  if (m.files.repaired > 0) {
    const size = m.repaired.reduce((sum, file) => sum + file.size, 0);
    parts.push(
      `${plural(m.files.repaired, 'file')} repaired: ${formatBytes(m.bytes.repaired)} of ${formatBytes(size)} rewritten`,
    );
  }
  parts.push(`${m.files.upToDate} up to date (${formatBytes(m.bytes.upToDate)})`);
  if (m.files.failed > 0) parts.push(`${m.files.failed} failed`);
  if (m.files.deleted > 0) parts.push(`${m.files.deleted} deleted`);
  const lines = [`mirror: ${parts.join(', ')}, in ${m.dir}`];
  if (m.deleteSkipped) lines.push(`mirror: --delete skipped: ${m.deleteSkipped}`);
  return `${lines.join('\n')}\n`;
}

/** `--dry-run`: the fetch plan of what the files to write need, and what would change under `<dir>`. */
async function dryRun(
  manifest: Awaited<ReturnType<typeof loadManifest>>,
  dir: string,
  flags: MirrorFlags,
  cacheDir: string,
  io: CliIO,
): Promise<number> {
  const { planMirror } = await import('../../mirror/plan.js');
  const plan = await planMirror(manifest, dir, {
    cacheDir,
    create: false,
    ...(flags.delete ? { delete: true } : {}),
    ...(flags.checksum ? { checksum: true } : {}),
    signal: io.signal,
  });
  const fetchPlan = planDocument(
    plan.needed,
    await planFor(plan.needed, cacheDir, plan.neededOrder),
    cacheDir,
  );
  const mirror = mirrorPlanDocument(plan);
  if (flags.json) await writeJsonDocument(io.stdout, { ...fetchPlan, mirror });
  else {
    io.stdout.write(
      formatPlan(planReport(fetchPlan), chalkFor(io.stdout, io.env)) +
        formatMirrorPlan(mirrorPlanReport(mirror)),
    );
  }
  // A file that a real run would refuse is reported as the failure it would be.
  return mirror.refused.length > 0 ? EXIT.failed : EXIT.ok;
}

export function registerMirror(program: Command, { io, setExit }: CommandContext): void {
  const command = program
    .command('mirror')
    .summary('fetch a manifest and materialise its files in a directory')
    .description(
      'Fetch the fragments of a manifest into the cache, then write every file under <dir> at its path, ' +
        'assembling byte-range fragments at their offsets. Files that already match are left alone and cost no request.',
    )
    .argument('<manifest>', 'manifest file or http(s) URL')
    .argument('<dir>', 'directory to write the files in (created if missing)');
  for (const option of transferOptions()) command.addOption(option);
  command.addOption(dryRunOption());
  for (const option of cacheModeOptions()) command.addOption(option);
  command.addOption(
    new Option('--hardlink', 'hard-link whole files to the cache instead of copying (do not edit them!)'),
  );
  command.addOption(new Option('--delete', 'remove files under <dir> that the manifest does not name'));
  command.addOption(
    new Option('--checksum', 're-hash local files even when they look unchanged since the last mirror'),
  );
  command
    .addHelpText(
      'after',
      `
Files are written under a temporary name, synced and renamed: a file never appears half written.
With --hardlink, a mirrored file and the cache share their bytes (and are made read-only): editing
the file in place would corrupt the cache entry.

Examples:
  $ fragfetch mirror model.json ./models/tiny
  $ fragfetch mirror model.json ./models/tiny --delete --dry-run
  $ fragfetch mirror model.json /srv/models/tiny --hardlink --json > report.json`,
    )
    .action(async (source: string, dir: string, flags: MirrorFlags) =>
      setExit(await mirrorCommand(source, dir, flags, io)),
    );
}
