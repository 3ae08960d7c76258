import { Command, CommanderError, Help } from 'commander';
import type { Writable } from 'node:stream';
import { FragfetchError } from '../errors.js';
import type { CommandContext } from './commands/context.js';
import { registerCache } from './commands/cache.js';
import { registerCat } from './commands/cat.js';
import { registerCheck } from './commands/check.js';
import { registerFetch } from './commands/fetch.js';
import { registerManifest } from './commands/manifest.js';
import { registerMirror } from './commands/mirror.js';
import { type CliIO, EXIT } from './io.js';
import { writeJson } from './output.js';
import { suggestion } from './suggest.js';
import { colorLevel, widthOf } from './terminal.js';
import { packageVersion } from './version.js';

/** Errors of the user's input: exit 2, nothing downloaded. */
const USAGE_CODES = new Set(['EUSAGE', 'EMANIFEST']);

/** Each command lives in its own module under commands/ and registers itself here. */
const COMMANDS: ((program: Command, context: CommandContext) => void)[] = [
  registerFetch,
  registerMirror,
  registerCheck,
  registerCat,
  registerManifest,
  registerCache,
];

function buildProgram(context: CommandContext): Command {
  const { io } = context;
  const program = new Command('fragfetch')
    .description(
      'Prefetch and mirror the fragments of large artefacts from CDNs into a content-addressed cache.',
    )
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // One line saying what is wrong, then the usage line (showHelpAfterError below).
      outputError: (text, write) => write(`fragfetch: ${usageMessage(text)}`),
      getOutHelpWidth: () => widthOf(io.stdout, io.env),
      getErrHelpWidth: () => widthOf(io.stderr, io.env),
      getOutHasColors: () => colorLevel(io.stdout, io.env) > 0,
      getErrHasColors: () => colorLevel(io.stderr, io.env) > 0,
    })
    .configureHelp(HELP)
    .addHelpText('after', PROGRAM_HELP_AFTER);
  for (const register of COMMANDS) register(program, context);
  addHelpCommand(program);
  for (const command of allCommands(program)) {
    command.showHelpAfterError(usageLine(command));
    // commander's own message suggests the last word of a nested command (`verify` for `cache verify`).
    if (isGroup(command)) command.on('command:*', ([name]: string[]) => unknownCommand(command, name ?? ''));
  }
  return program;
}

/**
 * `fragfetch help [command...]` in place of commander's implicit one, which printed the whole help
 * (exit 2, no error line) for a command that does not exist, and took one word only. The groups
 * keep theirs (`fragfetch cache help prune`): they inherited it when they were created.
 */
function addHelpCommand(program: Command): void {
  program.helpCommand(false);
  program
    .command('help')
    .description('show help for a command')
    .argument('[command...]', 'the command, e.g. "cache prune"')
    .action((words: string[]) => {
      let target = program;
      for (const word of words) {
        const next = target.commands.find((sub) => sub.name() === word || sub.aliases().includes(word));
        if (!next) unknownCommand(target, word);
        target = next;
      }
      target.help();
    });
}

/** One line, `unknown command 'verify' (did you mean cache verify?)`, then the usage line; exit 2. */
function unknownCommand(group: Command, name: string): never {
  const candidates = [...leafCommands(group), ...allCommands(group).slice(1).filter(isGroup)].map((sub) =>
    nameBelowRoot(sub).join(' '),
  );
  group.error(`unknown command '${name}'${suggestion(name, candidates)}`, {
    code: 'commander.unknownCommand',
  });
}

const PROGRAM_HELP_AFTER = `
Examples:
  $ fragfetch fetch model.json
  $ fragfetch mirror model.json ./models/tiny
  $ fragfetch check model.json --junit report.xml

Exit codes:
  0    done, everything verified
  1    some fragments failed, or the manifest URL could not be fetched
  2    usage error or invalid manifest (nothing downloaded)
  130  interrupted (partial downloads are kept for the next run)

Environment:
  FRAGFETCH_CACHE           the cache folder when --cache is not given
  FRAGFETCH_MAX_CACHE_SIZE  prune the cache to this size after a run (20GiB)
  FRAGFETCH_TOKEN           bearer token for the manifest's own origins only
  FRAGFETCH_CA_FILE         extra CAs to trust, a PEM file (as --ca-file)
  NODE_EXTRA_CA_CERTS       Node's own extra CAs: how to trust a private CA
  HTTPS_PROXY, HTTP_PROXY   proxy for https: and http: URLs, as curl reads them
  ALL_PROXY                 proxy for either when the scheme's own is not set
  NO_PROXY                  hosts to reach directly (example.com,.internal,*)
  NO_COLOR, FORCE_COLOR     no colour / colour even when not a terminal
  DEBUG                     stack traces on errors`;

const baseHelp = new Help();

/**
 * `fragfetch --help` lists every command a user can run, nested ones included (`manifest create`,
 * `cache prune`), as git and npm do: a group such as `manifest` does nothing by itself. Inherited by
 * every subcommand, so `fragfetch manifest --help` names its commands in full as well.
 */
const HELP: Partial<Help> = {
  visibleCommands: (command) =>
    command.parent
      ? baseHelp.visibleCommands(command)
      : baseHelp.visibleCommands(command).flatMap((sub) => (isGroup(sub) ? leafCommands(sub) : [sub])),
  // Every command takes options, so `[options]` says nothing in a list of commands.
  subcommandTerm: (command) =>
    [...nameBelowRoot(command), ...command.registeredArguments.map(argumentTerm)].join(' '),
};

/** A command that only holds others (`manifest`, `cache`): ours never both act and hold commands. */
function isGroup(command: Command): boolean {
  return command.commands.length > 0;
}

function leafCommands(group: Command): Command[] {
  // Without the group's own implicit `help` command: the root's one is listed already.
  const visible = baseHelp.visibleCommands(group).filter((sub) => sub.parent === group);
  return visible.flatMap((sub) => (isGroup(sub) ? leafCommands(sub) : [sub]));
}

/** `['fragfetch', 'manifest', 'create']` */
function commandPath(command: Command): string[] {
  const names: string[] = [];
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name());
  return names;
}

/** `['manifest', 'create']`; the implicit `help` command has no parent and is just `['help']`. */
function nameBelowRoot(command: Command): string[] {
  const names = [command.name()];
  for (let at = command.parent; at?.parent; at = at.parent) names.unshift(at.name());
  return names;
}

function argumentTerm(argument: { name(): string; required: boolean; variadic: boolean }): string {
  const name = `${argument.name()}${argument.variadic ? '...' : ''}`;
  return argument.required ? `<${name}>` : `[${name}]`;
}

/**
 * commander says `option '-j, --concurrency <n>' argument 'zero' is invalid. invalid number "zero": …`;
 * the option's name and our parser's message say it all: `--concurrency: invalid number "zero": …`.
 */
export function usageMessage(text: string): string {
  return text
    .replace(/^error: /, '')
    .replace(
      /^option '(?:-\w, )?(--[\w-]+)[^']*' argument '(?:[^']|'(?! is invalid))*' is invalid\. /,
      '$1: ',
    )
    .replace(/^command-argument value '.*' is invalid for argument '([^']+)'\. /, '<$1>: ');
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

/** `usage: fragfetch fetch [options] <manifest>  (fragfetch fetch --help for more)` */
function usageLine(command: Command): string {
  const name = commandPath(command).join(' ');
  return `usage: ${name} ${command.usage()}  (${name} --help for more)`;
}

/** `--json` was asked for (before any `--`): then stdout holds one JSON document, even on failure. */
function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** Errors are reported in JSON only when nothing reached stdout: never two documents. */
function trackWrites(io: CliIO): { io: CliIO; wrote(): boolean } {
  let wrote = false;
  const stdout = new Proxy(io.stdout, {
    get(target, property) {
      if (property === 'write') {
        // Every argument passed on: a stream's write takes a callback too (`fragfetch cat`).
        return (...args: Parameters<Writable['write']>) => {
          wrote = true;
          return (target.write as Writable['write']).apply(target, args);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { io: { ...io, stdout }, wrote: () => wrote };
}

/**
 * Runs the CLI and returns the exit code; only bin/ calls process.exit. Every failure becomes one
 * line on stderr (a stack trace only with --verbose or DEBUG); with --json, also a JSON document
 * `{ ok: false, error: { code, message } }` on stdout when nothing else was printed there.
 */
export async function run(argv: string[], cliIO: CliIO): Promise<number> {
  const tracked = trackWrites(cliIO);
  const io = tracked.io;
  let exitCode: number = EXIT.ok;
  const program = buildProgram({
    io,
    setExit: (code) => {
      exitCode = code;
    },
  });
  const failed = (
    code: number,
    error: { code: string; message: string; problems?: readonly string[] },
  ): number => {
    if (wantsJson(argv) && !tracked.wrote()) writeJson(io, { ok: false, error });
    return code;
  };
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end through here too, with exit code 0; commander has printed the rest.
      if (error.exitCode === 0) return EXIT.ok;
      return failed(EXIT.usage, { code: 'EUSAGE', message: usageMessage(error.message) });
    }
    const verbose = argv.includes('--verbose') || argv.includes('-v') || Boolean(io.env.DEBUG);
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`fragfetch: ${message}\n`);
    if (verbose && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
    const code = error instanceof FragfetchError ? error.code : 'EUNKNOWN';
    // An invalid manifest's every problem, where the message names the first.
    const problems = error instanceof FragfetchError ? error.problems : undefined;
    if (USAGE_CODES.has(code))
      return failed(EXIT.usage, { code, message, ...(problems ? { problems } : {}) });
    if (io.signal.aborted) return failed(EXIT.interrupted, { code: 'EABORT', message });
    return failed(EXIT.failed, { code, message });
  }
}
