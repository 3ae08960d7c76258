import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createManifest } from '../../manifest/create.js';
import { loadManifest } from '../../manifest/load.js';
import { formatBytes } from '../../units.js';
import { type CliIO, EXIT } from '../io.js';
import type { CommandContext } from './context.js';

export async function manifestCreateCommand(
  dir: string,
  flags: { baseUrl: string; name?: string; output?: string },
  io: CliIO,
): Promise<number> {
  const manifest = await createManifest(dir, {
    baseUrl: flags.baseUrl,
    ...(flags.name === undefined ? {} : { name: flags.name }),
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

export function registerManifest(program: Command, { io, setExit }: CommandContext): void {
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
}
