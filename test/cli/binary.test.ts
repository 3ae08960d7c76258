/**
 * The built binary (`bin/fragfetch.js` → the bundle in dist/cli, scripts/bundle.ts) where it differs
 * from the in-process runs of the other CLI tests: its own version, and the lazily loaded pieces —
 * undici, for a manifest URL and for a proxy — that the bundle must still find.
 */
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** A proxy that only tunnels (CONNECT), as undici uses for http: targets too; records each tunnel. */
async function tunnelProxy(): Promise<{ url: string; tunnels: string[]; close(): Promise<void> }> {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('data', (head: Buffer) => {
      const text = head.toString('latin1');
      const target = /^CONNECT (\S+):(\d+) HTTP\/1\.1\r\n/.exec(text);
      if (!target) return void client.end('HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n');
      tunnels.push(`${target[1]}:${target[2]}`);
      const upstream = net.connect(Number(target[2]), target[1], () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        const rest = head.subarray(head.indexOf('\r\n\r\n') + 4);
        if (rest.length > 0) upstream.write(rest);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

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
    const proxy = await tunnelProxy();
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
      const origin = new URL(h.cdn.origin).host;
      // One tunnel for the manifest, one for the fragment (separate clients), none bypassed.
      expect(proxy.tunnels).toEqual([origin, origin]);
      expect(h.cdn.requestsFor('/m/model.json')).toHaveLength(1);
      expect(h.cdn.requestsFor('/m/a.bin')).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  });
});
