import type { Command } from 'commander';
import { displayUrl, isFragfetchError } from '../../errors.js';
import { loadManifest } from '../../manifest/load.js';
import { formatBytes, oneLine, plural } from '../../units.js';
import { type CliIO, EXIT } from '../io.js';
import type { CommandContext } from './context.js';
import { registerManifestCreate } from './manifest-create.js';

export async function manifestValidateCommand(
  source: string,
  flags: { json?: boolean },
  io: CliIO,
): Promise<number> {
  let manifest: Awaited<ReturnType<typeof loadManifest>>;
  try {
    manifest = await loadManifest(source);
  } catch (error) {
    // Every problem, one a line, as a linter prints them: fixing one at a time costs a run each.
    // With --json the error document lists them (program.ts).
    const problems = isFragfetchError(error, 'EMANIFEST') ? (error.problems ?? []) : [];
    if (flags.json || problems.length < 2) throw error;
    io.stderr.write(`fragfetch: ${displayUrl(source)}: ${plural(problems.length, 'problem')}\n`);
    for (const problem of problems) io.stderr.write(`  ${problem}\n`);
    return EXIT.usage;
  }
  const bytes = manifest.fragments.reduce((sum, f) => sum + (f.size ?? 0), 0);
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify({ ok: true, name: manifest.name ?? null, fragments: manifest.fragments.length, bytes })}\n`,
    );
  } else {
    io.stdout.write(
      `${oneLine(manifest.name ?? displayUrl(source))}: valid, ${plural(manifest.fragments.length, 'fragment')}, ${formatBytes(bytes)} declared\n`,
    );
  }
  return EXIT.ok;
}

export function registerManifest(program: Command, context: CommandContext): void {
  const { io, setExit } = context;
  const manifest = program
    .command('manifest')
    .summary('create or validate manifests')
    .description('Create a manifest for a directory, or validate one without downloading anything.');
  registerManifestCreate(manifest, context);
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
