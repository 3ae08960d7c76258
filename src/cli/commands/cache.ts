import { createInterface } from 'node:readline/promises';
import { type Command, Option } from 'commander';
import { readHistory } from '../../cache/history.js';
import { summarizeCache } from '../../cache/summary.js';
import { displayUrl, FragfetchError } from '../../errors.js';
import { loadManifest } from '../../manifest/load.js';
import { formatBytes, formatDuration, oneLine, plural } from '../../units.js';
import { defaultCacheDir } from '../cache-dir.js';
import { type CliIO, EXIT } from '../io.js';
import { parseAgeOption } from '../cache-options.js';
import { parseSizeOption } from '../options.js';
import { writeJson } from '../output.js';
import type { CommandContext } from './context.js';

/** cacache is loaded by the commands that use it, not by every run of the CLI (~80 ms). */
const maintain = () => import('../../cache/maintain.js');

interface CacheDirFlags {
  cache?: string;
  json?: boolean;
}

interface PruneFlags extends CacheDirFlags {
  keep?: string[];
  maxSize?: number;
  olderThan?: number;
  dryRun?: boolean;
}

const cacheDirOf = (flags: CacheDirFlags, io: CliIO) => flags.cache ?? defaultCacheDir(io.env);
const when = (time: number | string | null) => (time === null ? '-' : new Date(time).toISOString());

export async function cacheStatsCommand(flags: CacheDirFlags, io: CliIO): Promise<number> {
  const dir = cacheDirOf(flags, io);
  const [entries, runs, partials] = await Promise.all([
    (await maintain()).listEntries(dir),
    readHistory(dir),
    (await maintain()).partialUsage(dir),
  ]);
  const summary = summarizeCache(dir, entries, runs, partials);
  if (flags.json) {
    writeJson(io, summary);
    return EXIT.ok;
  }
  const lines = [
    `cache ${dir}`,
    `  ${plural(summary.entries, 'entry')}, ${formatBytes(summary.bytes)}`,
    `  oldest ${when(summary.oldest)}, newest ${when(summary.newest)}`,
    ...summary.manifests.map(
      (m) =>
        `  ${m.name ? oneLine(m.name) : '(unnamed)'}: ${plural(m.entries, 'entry')}, ${formatBytes(m.bytes)}`,
    ),
    `  partial downloads: ${partials.count} (${formatBytes(partials.bytes)})`,
    summary.runs.hitRate === null
      ? '  no recorded runs'
      : `  hit rate of the last ${plural(summary.runs.count, 'run')}: ${(summary.runs.hitRate * 100).toFixed(1)}%`,
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

export async function cacheLsCommand(flags: CacheDirFlags, io: CliIO): Promise<number> {
  // Entries written before keys left credentials out may still hold them: shown redacted.
  const entries = (await (await maintain()).listEntries(cacheDirOf(flags, io))).map((e) => ({
    ...e,
    key: displayKey(e.key),
    url: e.url === null ? null : displayUrl(e.url),
  }));
  if (flags.json) {
    writeJson(
      io,
      entries.map((e) => ({ ...e, time: new Date(e.time).toISOString() })),
    );
    return EXIT.ok;
  }
  // Tab-separated: reads in a terminal and cuts cleanly with `cut -f`.
  for (const e of entries) {
    io.stdout.write(`${e.key}\t${e.size}\t${e.integrity}\t${when(e.time)}\n`);
  }
  return EXIT.ok;
}

export async function cacheVerifyCommand(flags: CacheDirFlags, io: CliIO): Promise<number> {
  const result = await (await maintain()).verifyCache(cacheDirOf(flags, io));
  if (flags.json) writeJson(io, result);
  else {
    io.stdout.write(
      [
        `verified ${plural(result.verifiedContent, 'content file')} (${formatBytes(result.keptSize)}) in ${formatDuration(result.durationMs)}`,
        `  corrupt content removed: ${result.badContentCount}`,
        `  garbage collected: ${plural(result.reclaimedCount, 'file')}, ${formatBytes(result.reclaimedSize)}`,
        `  index entries: ${result.totalEntries}, rejected ${result.rejectedEntries} (missing content ${result.missingContent})`,
      ].join('\n') + '\n',
    );
  }
  return EXIT.ok;
}

export async function cachePruneCommand(flags: PruneFlags, io: CliIO): Promise<number> {
  const dir = cacheDirOf(flags, io);
  const manifests = await Promise.all((flags.keep ?? []).map((source) => loadManifest(source)));
  const { keysOf, pruneCache } = await maintain();
  const result = await pruneCache(
    dir,
    {
      keep: keysOf(manifests),
      onlyKept: manifests.length > 0,
      ...(flags.maxSize === undefined ? {} : { maxSize: flags.maxSize }),
      ...(flags.olderThan === undefined ? {} : { olderThanMs: flags.olderThan }),
    },
    { partials: true, dryRun: Boolean(flags.dryRun) },
  );
  if (flags.json) writeJson(io, { dryRun: Boolean(flags.dryRun), ...result });
  else {
    const verb = flags.dryRun ? 'would remove' : 'removed';
    io.stdout.write(
      `${verb} ${plural(result.entriesRemoved, 'entry')}, freeing ${formatBytes(result.bytesFreed)} ` +
        `(${formatBytes(result.bytesLeft)} left); ${verb} ${plural(result.partialsRemoved, 'stale partial download')}\n`,
    );
  }
  return EXIT.ok;
}

export async function cacheClearCommand(
  flags: CacheDirFlags & { yes?: boolean },
  io: CliIO,
): Promise<number> {
  const dir = cacheDirOf(flags, io);
  if (!flags.yes) {
    // Asking needs someone to answer: never wait on a pipe or in CI.
    if (!process.stdin.isTTY || !io.stderr.isTTY) {
      throw new FragfetchError('EUSAGE', `refusing to clear ${dir} without a terminal to confirm; add --yes`);
    }
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await prompt
      .question(`Remove everything in the cache ${dir}? [y/N] `)
      .finally(() => prompt.close());
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.stderr.write('nothing removed\n');
      return EXIT.ok;
    }
  }
  await (await maintain()).clearCache(dir);
  io.stdout.write(`cleared ${dir}\n`);
  return EXIT.ok;
}

const cacheOption = () =>
  new Option('--cache <dir>', 'cache folder (default: $FRAGFETCH_CACHE, else the user cache folder)');
const jsonOption = () => new Option('--json', 'print JSON on stdout');

export function registerCache(program: Command, { io, setExit }: CommandContext): void {
  const cache = program
    .command('cache')
    .summary('inspect and maintain the cache')
    .description('Inspect, verify, prune or clear the content-addressed cache.');
  const sub = (name: string, summary: string, description: string, examples: string[]) =>
    cache
      .command(name)
      .summary(summary)
      .description(description)
      .addOption(cacheOption())
      .addHelpText(
        'after',
        `\nExamples:\n${examples.map((line) => `  $ fragfetch cache ${line}`).join('\n')}`,
      );
  sub(
    'stats',
    'entries, bytes and the hit rate of the last runs',
    'Show the entries and bytes of the cache, by manifest, the oldest and newest use, and the hit rate of the last recorded runs.',
    ['stats', 'stats --json --cache /var/cache/fragfetch'],
  )
    .addOption(jsonOption())
    .action(async (flags: CacheDirFlags) => setExit(await cacheStatsCommand(flags, io)));
  sub(
    'ls',
    'list entries: key, size, integrity, last use',
    'List the entries of the cache, least recently used first: key, size, integrity and last use (tab-separated).',
    ['ls', "ls --json | jq '.[].key'"],
  )
    .addOption(jsonOption())
    .action(async (flags: CacheDirFlags) => setExit(await cacheLsCommand(flags, io)));
  sub(
    'verify',
    're-hash content, drop the corrupt, collect garbage',
    'Re-hash every content file, remove what is corrupt, rebuild the index and collect garbage (cacache.verify).',
    ['verify', 'verify --json'],
  )
    .addOption(jsonOption())
    .action(async (flags: CacheDirFlags) => setExit(await cacheVerifyCommand(flags, io)));
  sub(
    'prune',
    'remove least-recently used content',
    'Remove what is not needed, least-recently used first, and report the bytes freed. Partial downloads untouched for a week are removed too.',
    ['prune --max-size 50GiB', 'prune --keep tiny.json big.json', 'prune --older-than 30d --dry-run'],
  )
    .addOption(new Option('--keep <manifest...>', 'remove everything these manifests do not need'))
    .addOption(
      new Option(
        '--max-size <size>',
        'remove least-recently used content until at most SIZE is left',
      ).argParser(parseSizeOption),
    )
    .addOption(
      new Option('--older-than <duration>', 'remove entries not used for DURATION (e.g. 30d, 2w)').argParser(
        parseAgeOption,
      ),
    )
    .addOption(new Option('-n, --dry-run', 'say what would be removed, remove nothing'))
    .addOption(jsonOption())
    .action(async (flags: PruneFlags) => setExit(await cachePruneCommand(flags, io)));
  sub(
    'clear',
    'remove everything in the cache',
    'Remove every entry, content file, partial download and the run history; asks first on a terminal.',
    ['clear', 'clear --yes --cache /tmp/ff-cache'],
  )
    .addOption(new Option('-y, --yes', 'do not ask'))
    .action(async (flags: CacheDirFlags & { yes?: boolean }) => setExit(await cacheClearCommand(flags, io)));
}

/** An index key as it may be shown: the URL of a `fragfetch:url:` key through displayUrl. */
function displayKey(key: string): string {
  const prefix = 'fragfetch:url:';
  return key.startsWith(prefix) ? `${prefix}${displayUrl(key.slice(prefix.length))}` : key;
}
