import { Command, CommanderError, type Option } from 'commander';
import { FragfetchError } from '../errors.js';
import { fetchCommand } from './fetch-command.js';
import { type CliIO, EXIT } from './io.js';
import { manifestCreateCommand, manifestValidateCommand } from './manifest-command.js';
import { type TransferFlags, transferOptions } from './options.js';
import { packageVersion } from './version.js';

const version = packageVersion();

/** Errors of the user's input: exit 2, nothing downloaded. */
const USAGE_CODES = new Set(['EUSAGE', 'EMANIFEST']);

function withOptions(command: Command, options: Option[]): Command {
  for (const option of options) command.addOption(option);
  return command;
}

function buildProgram(io: CliIO, setExit: (code: number) => void): Command {
  const program = new Command('fragfetch')
    .description(
      'Prefetch and mirror the fragments of large artefacts from CDNs into a content-addressed cache.',
    )
    .version(version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });

  withOptions(
    program
      .command('fetch')
      .description('download every fragment of a manifest that is not cached yet')
      .argument('<manifest>', 'manifest file or http(s) URL'),
    transferOptions(),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ fragfetch fetch model.json
  $ fragfetch fetch https://cdn.example.com/models/tiny/manifest.json -j 32 --limit-rate 200MiB
  $ fragfetch fetch model.json --json > report.json`,
    )
    .action(async (source: string, flags: TransferFlags) => setExit(await fetchCommand(source, flags, io)));

  const manifest = program.command('manifest').description('create or validate manifests');
  manifest
    .command('create')
    .description("write a manifest for a directory's files (sizes and sha256 integrity)")
    .argument('<dir>', 'directory to describe')
    .requiredOption('--base-url <url>', 'URL the directory will be served from')
    .option('--name <name>', 'manifest name (default: the directory name)')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .addHelpText(
      'after',
      '\nExample:\n  $ fragfetch manifest create ./models/tiny --base-url https://cdn.example.com/tiny/ -o tiny.json',
    )
    .action(async (dir: string, flags: { baseUrl: string; name?: string; output?: string }) =>
      setExit(await manifestCreateCommand(dir, flags, io)),
    );
  manifest
    .command('validate')
    .description('validate a manifest without downloading anything')
    .argument('<manifest>', 'manifest file or http(s) URL')
    .option('--json', 'print the result as JSON')
    .action(async (source: string, flags: { json?: boolean }) =>
      setExit(await manifestValidateCommand(source, flags, io)),
    );
  return program;
}

/**
 * Runs the CLI and returns the exit code; only bin/ calls process.exit. Every failure becomes one
 * line on stderr (a stack trace only with --verbose or DEBUG).
 */
export async function run(argv: string[], io: CliIO): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end through here too, with exit code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const verbose = argv.includes('--verbose') || argv.includes('-v') || Boolean(io.env.DEBUG);
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`fragfetch: ${message}\n`);
    if (verbose && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    if (error instanceof FragfetchError && USAGE_CODES.has(error.code)) return EXIT.usage;
    if (io.signal.aborted) return EXIT.interrupted;
    return EXIT.failed;
  }
}
