import { type NetworkFlags, networkOf, networkOptions } from '../network.js';
import { constants } from 'node:fs';
import { access, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { checkDefaults } from '../../check/defaults.js';
import type { CheckOptions } from '../../check/run.js';
import type { ProbeResult } from '../../check/types.js';
import { outcomeOf } from '../../check/types.js';
import { displayUrl, FragfetchError } from '../../errors.js';
import { loadManifest } from '../../manifest/load.js';
import { formatDuration } from '../../units.js';
import { type CliIO, EXIT } from '../io.js';
import { parseCount, parseDurationOption, parseHeader, parsePositiveInt } from '../options.js';
import { writeJson } from '../output.js';
import { chalkFor } from '../terminal.js';
import type { CommandContext } from './context.js';

/** What commander hands the `check` action. */
export interface CheckFlags extends NetworkFlags {
  concurrency: number;
  retries: number;
  timeout: number;
  sample?: number;
  seed?: number;
  deep?: boolean;
  strict?: boolean;
  junit?: string;
  header?: Record<string, string>;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

/**
 * check's own options: the transfer options that fit, with a check's defaults (a verdict in seconds,
 * so a shorter timeout and fewer retries than fetch), and nothing about the cache, which it never touches.
 */
function checkOptions(): Option[] {
  return [
    new Option('-j, --concurrency <n>', 'probes in flight at once')
      .default(checkDefaults.concurrency)
      .argParser(parsePositiveInt),
    new Option('--retries <n>', 'retries of a transient failure (reset, 5xx, 429); timeouts are not retried')
      .default(checkDefaults.retries)
      .argParser(parseCount),
    new Option(
      '--timeout <duration>',
      'connect, response-header and body-silence timeout of a probe (0: no limit)',
    )
      .default(checkDefaults.timeoutMs, '10s')
      .argParser(parseDurationOption),
    new Option(
      '--sample <n>',
      'probe n fragments spread across priorities (every critical one always)',
    ).argParser(parsePositiveInt),
    new Option(
      '--seed <n>',
      'shuffle each priority class before sampling (vary it to cover more over runs)',
    ).argParser(parseCount),
    new Option(
      '--deep',
      'download each probed fragment and verify its size and integrity (nothing is cached)',
    ),
    new Option('--strict', 'warnings (range ignored, mirrors out of sync) fail the check too'),
    new Option(
      '--junit <file>',
      'write a JUnit XML report: a testsuite per endpoint, a testcase per fragment',
    ),
    new Option('-H, --header <header>', 'extra request header "Name: value" (repeatable)').argParser(
      parseHeader,
    ),
    ...networkOptions(),
    new Option('--json', 'print one JSON report with every probe on stdout, nothing else'),
    new Option('-q, --quiet', 'failures and the table only, no warning details'),
    new Option('-v, --verbose', 'one line per probe on stderr as it is judged'),
  ];
}

export async function checkCommand(source: string, flags: CheckFlags, io: CliIO): Promise<number> {
  const headers = flags.header ?? {};
  const junit = flags.junit === undefined ? undefined : resolve(flags.junit);
  // An unwritable report path is the user's mistake: say so before a single probe, with exit 2.
  if (junit !== undefined) await assertWritableDir(junit);
  const network = networkOf(flags, io);
  const manifest = await loadManifest(source, { headers, timeoutMs: flags.timeout, network });
  const started = new Date();
  const options: CheckOptions = {
    concurrency: flags.concurrency,
    retries: flags.retries,
    timeoutMs: flags.timeout,
    headers,
    network,
    deep: flags.deep ?? false,
    strict: flags.strict ?? false,
    signal: io.signal,
    ...(flags.sample === undefined ? {} : { sample: flags.sample }),
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
    ...(flags.verbose ? { onResult: (result: ProbeResult) => io.stderr.write(probeLine(result)) } : {}),
  };
  // Loaded by the command that runs them, not by every start of the CLI.
  const [{ checkManifest }, { renderJunit }, { formatCheck }] = await Promise.all([
    import('../../check/run.js'),
    import('../../check/junit.js'),
    import('../../check/table.js'),
  ]);
  const report = await checkManifest(manifest, options);

  if (junit !== undefined) {
    const xml = renderJunit(report, { timestamp: started, hostname: hostname() });
    await writeAtomically(junit, xml);
  }
  if (flags.json) writeJson(io, report);
  else
    io.stdout.write(formatCheck(report, { chalk: chalkFor(io.stdout, io.env), quiet: flags.quiet ?? false }));
  if (junit !== undefined && !flags.json && !flags.quiet) io.stderr.write(`wrote ${flags.junit}\n`);
  if (report.interrupted) return EXIT.interrupted;
  return report.ok ? EXIT.ok : EXIT.failed;
}

/** `--verbose`: `ok  layer.0  http://cdn/a.bin  206 GET  12ms`, or the findings. */
function probeLine(result: ProbeResult): string {
  const o = result.observation;
  const outcome = outcomeOf(result.findings);
  const status = o.status === undefined ? '-' : `${o.status} ${o.method}`;
  const ttfb = o.ttfbMs === undefined ? '-' : formatDuration(o.ttfbMs);
  const notes = result.findings.map((f) => `${f.code} ${f.message}`).join('; ');
  return `${outcome.padEnd(7)} ${result.fragment.id}  ${displayUrl(result.url)}  ${status}  ${ttfb}${notes ? `  ${notes}` : ''}\n`;
}

async function assertWritableDir(file: string): Promise<void> {
  try {
    await access(dirname(file), constants.W_OK);
  } catch (error) {
    throw new FragfetchError('EUSAGE', `--junit ${file}: the folder does not exist or is not writable`, {
      cause: error,
    });
  }
}

/** A CI reader never sees half a report: write beside it, then rename over. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temp, text);
    await rename(temp, file);
  } finally {
    await rm(temp, { force: true });
  }
}

export function registerCheck(program: Command, { io, setExit }: CommandContext): void {
  const command = program
    .command('check')
    .summary('probe every fragment on every endpoint, for CI')
    .description(
      'Probe each fragment on each endpoint with a one-byte ranged GET (status, latency, length, range support, validators) without downloading it; exit 1 when something is unreachable or wrong.',
    )
    .argument('<manifest>', 'manifest file or http(s) URL');
  for (const option of checkOptions()) command.addOption(option);
  command
    .addHelpText(
      'after',
      `
Findings: OK; unreachable (DNS, refused, TLS, timeout); HTTP error; size mismatch; wrong range;
integrity mismatch (--deep); warnings: range ignored, validators differ between endpoints.
Exit codes: 0 all probes pass (warnings allowed unless --strict), 1 a probe failed, 2 usage or manifest error.

Examples:
  $ fragfetch check model.json
  $ fragfetch check model.json --junit report.xml --sample 200 --timeout 5s
  $ fragfetch check model.json --deep --strict --json > check.json`,
    )
    .action(async (source: string, flags: CheckFlags) => setExit(await checkCommand(source, flags, io)));
}
