import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm pack', () => {
  it('ships the CLI, the library and its types, and nothing of the sources or tests', () => {
    const [pack] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' }),
    ) as [{ files: { path: string }[] }];
    const files = pack.files.map((file) => file.path);
    for (const wanted of [
      'bin/fragfetch.js',
      'dist/cli/main.js',
      // Worker modules, started by path: beside the bundle's chunks and beside tsc's output.
      'dist/cli/hash-worker.js',
      'dist/src/receive/hash-worker.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'package.json',
    ])
      expect(files).toContain(wanted);
    expect(files.filter((file) => /^(src|test|bench|scripts)\//.test(file))).toEqual([]);
    expect(files.filter((file) => file.includes('node_modules'))).toEqual([]);
  });
});
