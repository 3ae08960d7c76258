import { writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnCli } from '../support/cli.js';
import { randomBytesSeeded } from '../support/fixtures.js';
import { head, partial } from './raw-server.js';
import { failure, type Hostile, hostile } from './support.js';

/**
 * Answers that could leave a request unsettled. Each test waits for the run to settle, with time
 * limits far beyond the test's own: an answer that hung would fail by the test's timeout.
 */
let h: Hostile;
beforeEach(async () => {
  h = await hostile();
});
afterEach(async () => {
  await h.close();
});

const body = randomBytesSeeded(1000, 'cl');
const patient = { timeoutMs: 120_000, stallTimeoutMs: 120_000 };

describe('invalid Content-Length', () => {
  const cases: [string, string[]][] = [
    ['two different values', ['1000', '2000']],
    ['two different values in one field', ['1000, 2000']],
    ['a plus sign', ['+1000']],
    ['hex', ['0x3e8']],
    ['a negative value', ['-1000']],
    ['a fraction', ['1000.0']],
    ['a huge value', ['99999999999999999999999']],
    ['an empty value', ['']],
  ];
  for (const [what, values] of cases) {
    for (const size of [undefined, 1000, 600_000]) {
      it(`settles with an error on ${what} (${size === undefined ? 'no size' : `size ${size}`})`, async () => {
        h.server.on('/cl.bin', (socket) => {
          socket.write(
            head(
              '200 OK',
              values.map((value) => ['Content-Length', value]),
            ),
          );
          socket.write(body);
          // The connection stays open: only the client can end this exchange.
          return 'keep';
        });
        const manifest = h.manifest([{ path: 'cl.bin', ...(size === undefined ? {} : { size }) }]);
        const report = await h.fetch(manifest, patient);
        expect(report.ok).toBe(false);
        const { code, message } = failure(report);
        expect(code).toBe('ENETWORK');
        expect(message).toMatch(/Content-Length|content-length/);
        expect(message).not.toContain('NaN');
        expect(await h.cached(manifest.fragments[0]!)).toBeUndefined();
        await h.expectSound(0);
      });
    }
  }

  it('the binary exits 1 with its report, not 13 with nothing (two Content-Lengths)', async () => {
    h.server.on('/cl.bin', (socket) => {
      socket.write(
        head('200 OK', [
          ['Content-Length', 1000],
          ['Content-Length', 2000],
        ]),
      );
      socket.write(body);
      return 'keep';
    });
    const file = `${h.cacheDir}/manifest.json`;
    await writeFile(
      file,
      JSON.stringify({ version: 1, baseUrls: [h.server.url('/')], fragments: [{ path: 'cl.bin' }] }),
    );
    const result = await spawnCli(['fetch', file, '--cache', h.cacheDir, '--json', '--retries', '0']).done;
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { failures: { error: { code: string } }[] };
    expect(report.failures.map((f) => f.error.code)).toEqual(['ENETWORK']);
  });

  it('refuses a repeated Content-Length, even an equal one, in one line without NaN', async () => {
    h.server.on('/twice.bin', (socket) => {
      socket.write(
        head('200 OK', [
          ['Content-Length', 1000],
          ['Content-Length', 1000],
        ]),
      );
      socket.write(body);
      return 'keep';
    });
    const manifest = h.manifest([{ path: 'twice.bin', size: 1000 }]);
    const report = await h.fetch(manifest, patient);
    const { code, message } = failure(report);
    expect(code).toBe('ENETWORK');
    // llhttp refuses the duplicate; undici reports it as a length mismatch.
    expect(message).toMatch(/twice\.bin failed: .*the Content-Length was invalid$/);
    expect(await h.cached(manifest.fragments[0]!)).toBeUndefined();
  });
});

describe('a huge declared size', () => {
  it('plans a 10^15-byte fragment lazily, and fails on its first answer', async () => {
    const honest = randomBytesSeeded(4000, 'honest');
    h.server.on('/huge.bin', (socket, request) => {
      socket.write(partial(honest, request));
    });
    const manifest = h.manifest([{ path: 'huge.bin', size: 1e15 }]);
    const used = process.memoryUsage().heapUsed;
    const report = await h.fetch(manifest, patient);
    const { code, message } = failure(report);
    expect(code).toBe('ESIZE');
    expect(message).toContain('the object has 4000 bytes, the manifest says 1000000000000000');
    // 10^8 planned ranges would be gigabytes; a handful of requests were made.
    expect(h.server.requests.length).toBeLessThanOrEqual(3);
    expect(process.memoryUsage().heapUsed - used).toBeLessThan(256 * 1024 * 1024);
    await h.expectSound(0);
  });
});
