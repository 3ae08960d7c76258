/**
 * Bundles the CLI (`dist/src/cli/main.js`, what tsc emitted, dependencies included) into
 * `dist/cli/`, which `bin/fragfetch.js` runs. Node 20 loads an ES module graph file by file: a
 * `fetch` resolved, read and compiled ~170 of them (zod alone 95) before its first request, and
 * a warm run of 64 cached fragments took 0.43 s, 0.30 s bundled (issue 7, warm). Lazy imports
 * (check, mirror, cacache, undici, progress bars) stay lazy: they become chunks of their own.
 * Worker modules are entries of their own, beside the chunks that start them (src/workers/worker-url.ts).
 */
import { rm } from 'node:fs/promises';
import { build } from 'esbuild';

// Chunk names carry a content hash: without this, every build would leave the last one's beside it.
await rm('dist/cli', { recursive: true, force: true });

await build({
  entryPoints: {
    main: 'dist/src/cli/main.js',
    'hash-worker': 'dist/src/receive/hash-worker.js',
    'store-worker': 'dist/src/cache/store-worker.js',
  },
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Loaded from node_modules at run time, part by part (src/net/undici.ts): bundled, its index and
  // every part would be compiled at each start.
  external: ['undici'],
  // CommonJS dependencies (cacache, commander, cli-progress) call require(): give each chunk one.
  banner: {
    js: "import { createRequire as __fragfetchRequire } from 'node:module'; const require = __fragfetchRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
