import { Command, CommanderError } from 'commander';
import { FragfetchError } from '../errors.js';
import type { CommandContext } from './commands/context.js';
import { registerFetch } from './commands/fetch.js';
import { registerManifest } from './commands/manifest.js';
import { type CliIO, EXIT } from './io.js';
import { packageVersion } from './version.js';

/** Errors of the user's input: exit 2, nothing downloaded. */
const USAGE_CODES = new Set(['EUSAGE', 'EMANIFEST']);

/** Each command lives in its own module under commands/ and registers itself here. */
const COMMANDS: ((program: Command, context: CommandContext) => void)[] = [registerFetch, registerManifest];

function buildProgram(context: CommandContext): Command {
  const { io } = context;
  const program = new Command('fragfetch')
    .description(
      'Prefetch and mirror the fragments of large artefacts from CDNs into a content-addressed cache.',
    )
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    });
  for (const register of COMMANDS) register(program, context);
  return program;
}

/**
 * Runs the CLI and returns the exit code; only bin/ calls process.exit. Every failure becomes one
 * line on stderr (a stack trace only with --verbose or DEBUG).
 */
export async function run(argv: string[], io: CliIO): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram({
    io,
    setExit: (code) => {
      exitCode = code;
    },
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
