import { expect, it } from 'vitest';
import { fetchManifest } from '../../src/fetch/engine.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/fixtures.js';

const manifest = parseManifest(
  { version: 1, baseUrls: ['http://127.0.0.1:9/m/'], fragments: [{ path: 'a.bin', size: 100_000_000 }] },
  'm.json',
);

it('refuses a chunk size, concurrency or connection count below 1 at the engine’s door, before any request', async () => {
  const cacheDir = await tempDir('fragfetch-door-');
  for (const bad of [
    { chunkSize: 0 },
    { concurrency: 0 },
    { maxConnectionsPerObject: -1 },
    { chunkSize: 0.5 },
  ])
    await expect(fetchManifest(manifest, { cacheDir, ...bad })).rejects.toMatchObject({ code: 'EUSAGE' });
});

it('refuses --chunk-size 0 as a usage error, exit 2', async () => {
  const { code, stderr } = await runCli(['fetch', 'm.json', '--chunk-size', '0']);
  expect(code).toBe(2);
  expect(stderr).toContain('--chunk-size: invalid size "0": expected at least 1 byte');
});

it('runs many times on one caller signal without piling listeners on it', async () => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  try {
    const cacheDir = await tempDir('fragfetch-signal-');
    const signal = new AbortController().signal;
    const offline = parseManifest(
      { version: 1, baseUrls: ['http://127.0.0.1:9/m/'], fragments: [{ path: 'a.bin' }] },
      'm.json',
    );
    for (let run = 0; run < 15; run++)
      await fetchManifest(offline, { cacheDir, signal, cacheMode: 'offline', history: false });
    // A warning is emitted on the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  } finally {
    process.off('warning', onWarning);
  }
});
