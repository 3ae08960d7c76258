import { writeFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { FragfetchError } from '../../errors.js';
import { fetchDefaults } from '../../fetch/engine.js';
import type { ManifestDocument } from '../../manifest/document.js';
import { parsePriorityRule, type PriorityRule } from '../../tensors/priority.js';
import { formatBytes, plural } from '../../units.js';
import { type CliIO, EXIT } from '../io.js';
import { parseDurationOption, parseHeader } from '../options.js';
import { originsOf, withoutLogins } from '../../net/credentials.js';
import { type NetworkFlags, networkOf, networkOptions } from '../network.js';
import type { CommandContext } from './context.js';

interface CreateFlags extends NetworkFlags {
  baseUrl?: string;
  name?: string;
  output?: string;
  include?: string[];
  exclude?: string[];
  tensors?: boolean;
  priority?: PriorityRule[];
  explain?: boolean;
  fromUrl?: string[];
  header?: Record<string, string>;
  timeout: number;
}

export async function manifestCreateCommand(
  dir: string | undefined,
  flags: CreateFlags,
  io: CliIO,
  command: Command,
): Promise<number> {
  const note = (message: string) => io.stderr.write(`${message}\n`);
  const common = {
    ...(flags.name === undefined ? {} : { name: flags.name }),
    priority: flags.priority ?? [],
    ...(flags.explain ? { onExplain: (lines: string[]) => note(lines.join('\n')) } : {}),
  };
  let manifest: ManifestDocument;
  if (flags.fromUrl !== undefined) {
    if (dir !== undefined) command.error('give a folder or --from-url, not both', { exitCode: EXIT.usage });
    if (flags.baseUrl !== undefined || flags.include !== undefined || flags.exclude !== undefined) {
      command.error('--base-url, --include and --exclude are for a folder, not --from-url', {
        exitCode: EXIT.usage,
      });
    }
    // Loaded here: every other command starts without the header readers.
    const [{ HttpClient }, { createRemoteManifest }] = await Promise.all([
      import('../../net/http.js'),
      import('../../tensors/remote.js'),
    ]);
    // A login in a URL goes to its origin only, and into no manifest: the URLs are written without it.
    const logins = new Map<string, string>();
    const urls = withoutLogins(flags.fromUrl, logins);
    const http = new HttpClient({
      ...networkOf(flags, io),
      timeoutMs: flags.timeout,
      stallTimeoutMs: flags.timeout,
      headers: flags.header ?? {},
      trust: { origins: originsOf(urls), userinfo: logins },
    });
    try {
      manifest = await createRemoteManifest(urls, {
        http,
        tensors: flags.tensors === true,
        signal: io.signal,
        onFile: note,
        ...common,
      });
    } finally {
      await http.close();
    }
  } else {
    if (dir === undefined) command.error("missing required argument 'dir'", { exitCode: EXIT.usage });
    if (flags.baseUrl === undefined) {
      command.error("required option '--base-url <url>' not specified", { exitCode: EXIT.usage });
    }
    const { createManifest } = await import('../../manifest/create.js');
    manifest = await createManifest(dir as string, {
      baseUrl: flags.baseUrl as string,
      include: flags.include ?? [],
      exclude: flags.exclude ?? [],
      tensors: flags.tensors === true,
      onNotice: note,
      ...common,
    });
  }
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  if (flags.output) {
    await writeFile(flags.output, text);
    const bytes = manifest.fragments.reduce((sum, f) => sum + f.size, 0);
    io.stderr.write(
      `wrote ${flags.output}: ${plural(manifest.fragments.length, 'fragment')}, ${formatBytes(bytes)}\n`,
    );
  } else io.stdout.write(text);
  return EXIT.ok;
}

/** A repeatable option's values, in the order given. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function collectRule(value: string, previous: PriorityRule[] | undefined): PriorityRule[] {
  try {
    return [...(previous ?? []), parsePriorityRule(value)];
  } catch (error) {
    if (error instanceof FragfetchError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

export function registerManifestCreate(manifest: Command, { io, setExit }: CommandContext): void {
  const create = manifest
    .command('create')
    .summary("write a manifest for a directory's files")
    .description(
      "Write a manifest for a directory's files, with their sizes and sha256 integrity, to stdout or a file. " +
        'With --tensors, safetensors and GGUF files are cut into one fragment per tensor; with --from-url, ' +
        'the files are on a server and only their headers are read.',
    )
    .argument('[dir]', 'directory to describe')
    .option('--base-url <url>', 'URL the directory will be served from (required with a directory)')
    .option('--name <name>', 'manifest name (default: the directory name)')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--include <glob>', 'only files whose path matches (repeatable)', collect)
    .option('--exclude <glob>', 'leave out files whose path matches (repeatable)', collect)
    .option('--tensors', 'one fragment per tensor of *.safetensors and *.gguf files, and one per header')
    .option(
      '--priority <class=glob>',
      'priority of fragments whose id or tensor matches (repeatable)',
      collectRule,
    )
    .option('--explain', 'print the priority rules and what each fragment got, on stderr')
    .option('--from-url <url...>', 'describe files on a server from their headers, by range requests')
    .addOption(
      new Option('-H, --header <header>', 'extra request header "Name: value" (repeatable)').argParser(
        parseHeader,
      ),
    )
    .addOption(
      new Option('--timeout <duration>', 'connect and response-header timeout, with --from-url')
        .default(fetchDefaults.timeoutMs, '30s')
        .argParser(parseDurationOption),
    )
    .addHelpText(
      'after',
      `
Left out: .fragfetch/, .git/, .hg/, .svn/ and *.fragfetch-tmp. Symbolic links are followed.
With --tensors, fragments are "<file>:<tensor>" and "<file>:__header__"; the first --priority rule that
matches wins, then the defaults (fragfetch manifest create ... --tensors --explain prints them).

Examples:
  $ fragfetch manifest create ./models/tiny --base-url https://cdn.example.com/tiny/ -o tiny.json
  $ fragfetch manifest create ./llama --base-url https://cdn.example.com/llama/ --tensors --priority 'low=*.bias'
  $ fragfetch manifest create --tensors --from-url https://cdn.example.com/llama/model.safetensors.index.json`,
    )
    .action(async (dir: string | undefined, flags: CreateFlags, command: Command) =>
      setExit(await manifestCreateCommand(dir, flags, io, command)),
    );
  // With --from-url, the server is reached as fetch reaches it.
  for (const option of networkOptions()) create.addOption(option);
}
