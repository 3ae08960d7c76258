/**
 * A manifest URL that cannot be fetched is an outage (exit 1, with the network's code), not an
 * invalid manifest (exit 2): a deploy script retries the one and fixes the other.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** A port nobody listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a manifest URL that cannot be fetched', () => {
  it.each(['fetch', 'manifest validate'])('%s: a 404 exits 1 with EHTTP', async (command) => {
    const url = h.cdn.url('/m/missing.json');
    const cache = command === 'fetch' ? ['--cache', h.cacheDir] : [];
    const result = await runCli([...command.split(' '), url, ...cache, '--json']);
    expect(result.code, result.stderr).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: false,
      error: { code: 'EHTTP', message: `cannot fetch manifest ${url}: HTTP 404 Not Found` },
    });
  });

  it('a refused connection exits 1 with ENETWORK', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/m.json`;
    const result = await runCli(['fetch', url, '--cache', h.cacheDir, '--json']);
    expect(result.code, result.stderr).toBe(1);
    expect(JSON.parse(result.stdout).error.code).toBe('ENETWORK');
    expect(result.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^fragfetch: cannot fetch manifest .*ECONNREFUSED/),
    ]);
  });

  it('invalid JSON at a URL is still an invalid manifest: exit 2', async () => {
    h.cdn.set('/m/broken.json', Buffer.from('{"version": 1'));
    const result = await runCli(['fetch', h.cdn.url('/m/broken.json'), '--cache', h.cacheDir, '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout).error.code).toBe('EMANIFEST');
  });
});
