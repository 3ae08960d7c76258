import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's version, found by walking up: the code runs from src/ in tests and dist/src/ when built. */
export function packageVersion(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'fragfetch' && pkg.version) return pkg.version;
    } catch {
      // not here: keep walking
    }
    if (dirname(dir) === dir) return '0.0.0';
  }
}
