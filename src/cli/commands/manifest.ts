import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createManifest } from '../../manifest/create.js';
import { loadManifest } from '../../manifest/load.js';
import { formatBytes } from '../../units.js';
import { type CliIO, EXIT } from '../io.js';
import type { CommandContext } from './context.js';

interface CreateFlags {
  baseUrl: string;
  name?: string;
  output?: string;
  include?: string[];
  exclude?: string[];
}

export async function manifestCreateCommand(dir: string, flags: CreateFlags, io: CliIO): Promise<number> {
  const manifest = await createManifest(dir, {
    baseUrl: flags.baseUrl,
    ...(flags.name === undefined ? {} : { name: flags.name }),
    include: flags.include ?? [],
    exclude: flags.exclude ?? [],
    onNotice: (message) => io.stderr.write(`${message}\n`),
  });
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  if (flags.output) {
    await writeFile(flags.output, text);
    const bytes = manifest.fragments.reduce((sum, f) => sum + f.size, 0);
    io.stderr.write(`wrote ${flags.output}: ${manifest.fragments.length} fragments, ${formatBytes(bytes)}\n`);
  } else io.stdout.write(text);
  return EXIT.ok;
}

export async function manifestValidateCommand(
  source: string,
  flags: { json?: boolean },
  io: CliIO,
): Promise<number> {
  const manifest = await loadManifest(source);
  const bytes = manifest.fragments.reduce((sum, f) => sum + (f.size ?? 0), 0);
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify({ ok: true, name: manifest.name ?? null, fragments: manifest.fragments.length, bytes })}\n`,
    );
  } else {
    io.stdout.write(
      `${manifest.name ?? source}: valid, ${manifest.fragments.length} fragments, ${formatBytes(bytes)} declared\n`,
    );
  }
  return EXIT.ok;
}

/** A repeatable option's values, in the order given. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function registerManifest(program: Command, { io, setExit }: CommandContext): void {
  const manifest = program
    .command('manifest')
    .summary('create or validate manifests')
    .description('Create a manifest for a directory, or validate one without downloading anything.');
  manifest
    .command('create')
    .summary("write a manifest for a directory's files")
    .description(
      "Write a manifest for a directory's files, with their sizes and sha256 integrity, to stdout or a file.",
    )
    .argument('<dir>', 'directory to describe')
    .requiredOption('--base-url <url>', 'URL the directory will be served from (required)')
    .option('--name <name>', 'manifest name (default: the directory name)')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--include <glob>', 'only files whose path matches (repeatable)', collect)
    .option('--exclude <glob>', 'leave out files whose path matches (repeatable)', collect)
    .addHelpText(
      'after',
      `
Left out: .fragfetch/, .git/, .hg/, .svn/ and *.fragfetch-tmp. Symbolic links are followed.

Examples:
  $ fragfetch manifest create ./models/tiny --base-url https://cdn.example.com/tiny/ -o tiny.json
  $ fragfetch manifest create ./dist --base-url https://cdn.example.com/app/ --name app > app.json
  $ fragfetch manifest create . --base-url https://cdn.example.com/m/ --exclude '*.md' --exclude 'docs/**'`,
    )
    .action(async (dir: string, flags: CreateFlags) => setExit(await manifestCreateCommand(dir, flags, io)));
  manifest
    .command('validate')
    .summary('validate a manifest without downloading anything')
    .description(
      'Validate a manifest without downloading anything: every problem is one line naming the field, exit code 2.',
    )
    .argument('<manifest>', 'manifest file or http(s) URL')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ fragfetch manifest validate tiny.json
  $ fragfetch manifest validate https://cdn.example.com/tiny/manifest.json --json`,
    )
    .action(async (source: string, flags: { json?: boolean }) =>
      setExit(await manifestValidateCommand(source, flags, io)),
    );
}
