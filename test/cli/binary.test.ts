/**
 * The built binary (`bin/fragfetch.js` → the bundle in dist/cli, scripts/bundle.ts) where it differs
 * from the in-process runs of the other CLI tests: its own version, and the pieces loaded later —
 * undici, for a manifest URL and for a proxy, and the hash worker's module — that the bundle must
 * still find.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OFFLOAD_MIN_BYTES } from '../../src/receive/hasher.js';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf, tempDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';
import { startProxy } from '../support/proxy.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

describe('the built binary', () => {
  it('prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const result = await spawnCli(['--version']).done;
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(pkg.version);
  });

  it('loads a manifest URL and its fragments through the proxy HTTP_PROXY names', async () => {
    const body = randomBytesSeeded(20_000, 'proxied');
    h.cdn.set('/m/a.bin', body);
    const manifest = {
      version: 1,
      fragments: [{ path: 'a.bin', size: body.length, integrity: sriOf(body) }],
    };
    h.cdn.set('/m/model.json', Buffer.from(JSON.stringify(manifest)));
    const proxy = await startProxy();
    try {
      const run = spawnCli(['fetch', h.cdn.url('/m/model.json'), '--cache', h.cacheDir, '--json'], {
        // Lower case wins over upper case: both set, whatever the machine's environment holds.
        http_proxy: proxy.url,
        HTTP_PROXY: proxy.url,
        no_proxy: '',
        NO_PROXY: '',
      });
      const result = await run.done;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).fragments).toMatchObject({ total: 1, downloaded: 1 });
      // Plain http through a proxy: absolute-form requests, none bypassing it.
      expect(proxy.requests.map((r) => `${r.method} ${r.target}`)).toEqual([
        `GET ${h.cdn.url('/m/model.json')}`,
        `GET ${h.cdn.url('/m/a.bin')}`,
      ]);
      await h.cdn.idle();
      expect(h.cdn.requestsFor('/m/model.json')).toHaveLength(1);
      expect(h.cdn.requestsFor('/m/a.bin')).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });

  it('loads only the parts of undici a direct run uses, not its index', async () => {
    // Every CommonJS module the run loaded, listed at its exit by a preloaded hook.
    const dir = await tempDir('fragfetch-modules-');
    const listed = path.join(dir, 'modules.json');
    const hook = path.join(dir, 'list-modules.cjs');
    writeFileSync(
      hook,
      `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(listed)}, JSON.stringify(Object.keys(require.cache))));`,
    );
    const body = randomBytesSeeded(20_000, 'direct');
    h.cdn.set('/m/a.bin', body);
    const manifest = await h.manifestFile([{ path: 'a.bin', size: body.length, integrity: sriOf(body) }]);
    const result = await spawnCli(['fetch', manifest, '--cache', h.cacheDir, '--json'], {
      NODE_OPTIONS: `--require ${hook}`,
    }).done;
    const modules = JSON.parse(readFileSync(listed, 'utf8')) as string[];
    await rm(dir, { recursive: true });
    expect(result.code).toBe(0);
    const undici = modules
      .map((file) => file.split(`${path.sep}undici${path.sep}`)[1])
      .filter((file) => file !== undefined);
    expect(undici).toContain(path.join('lib', 'dispatcher', 'agent.js'));
    expect(undici).not.toContain('index.js');
    expect(undici.filter((file) => file.startsWith(path.join('lib', 'web')))).toEqual([]);
  });

  it('hashes a large object on the hash worker, a module of the bundle (dist/cli/hash-worker.js)', async () => {
    // Hashed by the worker, whose module must be beside the bundle's chunks: a fetch fails without it.
    const body = randomBytesSeeded(OFFLOAD_MIN_BYTES + 1, 'hashed on the worker');
    h.cdn.set('/m/big.bin', body);
    const manifest = await h.manifestFile([{ path: 'big.bin', size: body.length, integrity: sriOf(body) }]);
    const result = await spawnCli(['fetch', manifest, '--cache', h.cacheDir, '--json']).done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).fragments).toMatchObject({ total: 1, downloaded: 1, failed: 0 });
  });
});
