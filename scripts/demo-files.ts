import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytesSeeded } from '../test/support/fixtures.js';

interface DemoFragment {
  path: string;
  offset?: number;
  size?: number;
}

/**
 * The demo's files are not stored in the repository: each is regenerated from its path (the seed)
 * and the largest extent the manifest gives it, so the bundled manifest's integrity always matches.
 */
export async function writeDemoFiles(dir: string, fragments: readonly DemoFragment[]): Promise<number> {
  const extents = new Map<string, number>();
  for (const fragment of fragments) {
    const end = (fragment.offset ?? 0) + (fragment.size ?? 0);
    extents.set(fragment.path, Math.max(extents.get(fragment.path) ?? 0, end));
  }
  let total = 0;
  for (const [path, size] of extents) {
    const file = join(dir, ...path.split('/'));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, randomBytesSeeded(size, path));
    total += size;
  }
  return total;
}
