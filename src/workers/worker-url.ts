/**
 * The URL of a worker module beside the module that starts it (`base`, its `import.meta.url`): tsc
 * emits `<name>.js` beside the starter in dist/src, and the bundle (scripts/bundle.ts) beside its
 * chunks in dist/cli. Run from source (vitest runs src/*.ts, and Node 20 runs no TypeScript in a
 * worker) it is the compiled twin under dist/, which the test setup builds before any test.
 */
export function workerUrl(name: string, base: string): URL {
  if (!base.endsWith('.ts')) return new URL(`./${name}.js`, base);
  const at = base.lastIndexOf('/src/');
  return new URL(`./${name}.js`, `${base.slice(0, at)}/dist${base.slice(at)}`);
}
