import { writeFile } from 'node:fs/promises';
import { createManifest } from '../manifest/create.js';
import { loadManifest } from '../manifest/load.js';
import { formatBytes } from '../units.js';
import { type CliIO, EXIT } from './io.js';

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
