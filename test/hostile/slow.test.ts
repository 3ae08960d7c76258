import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { runCli } from '../support/cli.js';
import { randomBytesSeeded } from '../support/fixtures.js';
import { head, partial, type RawRequest, whole } from './raw-server.js';
import { failure, type Hostile, hostile } from './support.js';

/** A body that arrives, but too slowly to be worth waiting for: --min-speed over --min-speed-time. */
let h: Hostile;
beforeEach(async () => {
  h = await hostile();
});
afterEach(async () => {
  await h.close();
});

const body = randomBytesSeeded(4000, 'drip');
// Windows of 200 ms at 1000 B/s: a drip of 1 byte every 20 ms (50 B/s) fails each of them.
const floor = { minSpeed: 1000, minSpeedTimeMs: 200, stallTimeoutMs: 60_000 };

/** One byte every 20 ms, never silent long enough for the stall timeout; ranges honoured. */
function drip(socket: Socket, request: RawRequest): Promise<void> {
  let sent = request.range?.start ?? 0;
  socket.write(
    request.range
      ? head('206 Partial Content', [
          ['Content-Range', `bytes ${sent}-${body.length - 1}/${body.length}`],
          ['Content-Length', body.length - sent],
        ])
      : head('200 OK', [['Content-Length', body.length]]),
  );
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (socket.destroyed || sent === body.length) {
        clearInterval(timer);
        resolve();
        return;
      }
      socket.write(body.subarray(sent, ++sent));
    }, 20);
  });
}

describe('a dripping server', () => {
  it('gives up a drip with ESLOW, and retries it', async () => {
    h.server.on('/drip.bin', drip);
    const manifest = h.manifest([{ path: 'drip.bin', size: body.length }]);
    const report = await h.fetch(manifest, { ...floor, retries: 1 });
    const { code, message } = failure(report);
    expect(code).toBe('ESLOW');
    expect(message).toMatch(
      /drip\.bin too slow: \d+ bytes in 0\.2 s, under the floor of 1000 B\/s \(--min-speed\)$/,
    );
    expect(report.retries).toBe(1);
    const [first, second] = h.server.requests;
    expect(first?.range).toBeUndefined();
    // The retry resumes after the bytes the drip brought.
    expect(second?.range?.start).toBeGreaterThan(0);
    expect(h.server.requests).toHaveLength(2);
    expect(await h.cached(manifest.fragments[0]!)).toBeUndefined();
    await h.expectSound(0);
  });

  it('fails over from a dripping mirror to a healthy one', async () => {
    h.server.on('/slow/drip.bin', drip);
    h.server.on('/fast/drip.bin', (socket, request) => {
      socket.write(request.range ? partial(body, request) : whole(body));
    });
    const manifest = h.manifest([{ path: 'drip.bin', size: body.length }], ['/slow/', '/fast/']);
    const report = await h.fetch(manifest, floor);
    expect(report.ok).toBe(true);
    expect(h.server.requests.map((r) => r.path)).toEqual(['/slow/drip.bin', '/fast/drip.bin']);
    expect((await h.cached(manifest.fragments[0]!))?.equals(body)).toBe(true);
    await h.expectSound(1);
  });

  it('does not judge a body we held back ourselves (--limit-rate under the floor)', async () => {
    const large = randomBytesSeeded(2 * 1024 * 1024, 'large');
    h.server.on('/large.bin', (socket) => {
      socket.write(whole(large));
      return 'keep';
    });
    const manifest = h.manifest([{ path: 'large.bin', size: large.length }]);
    // Read at 1 MiB/s by our own limit, judged against 8 MiB/s over each 200 ms: every window
    // would fail, were the pace ours not discounted.
    const report = await h.fetch(manifest, {
      limitRate: 1024 * 1024,
      minSpeed: 8 * 1024 * 1024,
      minSpeedTimeMs: 200,
      retries: 0,
    });
    expect(report.failures).toEqual([]);
    expect((await h.cached(manifest.fragments[0]!))?.equals(large)).toBe(true);
  });

  it('resumes, with the honest bytes, when the server closes after a body we were reading slowly', async () => {
    const large = randomBytesSeeded(2 * 1024 * 1024, 'closing');
    h.server.on('/closing.bin', (socket, request) => {
      // The whole answer, then FIN without "Connection: close": undici, paused by our backpressure,
      // may report "other side closed" though every byte came. What arrived is kept: nothing is
      // asked twice.
      socket.write(request.range ? partial(large, request) : whole(large, [['ETag', '"c"']]));
    });
    const manifest = h.manifest([{ path: 'closing.bin', size: large.length }]);
    const report = await h.fetch(manifest, { limitRate: 1024 * 1024, retries: 5 });
    expect(report.failures).toEqual([]);
    expect((await h.cached(manifest.fragments[0]!))?.equals(large)).toBe(true);
    // Any retry asked for the rest only.
    for (const request of h.server.requests.slice(1)) expect(request.range?.start).toBeGreaterThan(0);
    await h.expectSound(1);
  });

  it('lets --min-speed 0 wait for a drip to end', async () => {
    const short = body.subarray(0, 20);
    h.server.on('/short-drip.bin', (socket) => {
      socket.write(head('200 OK', [['Content-Length', short.length]]));
      let sent = 0;
      return new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          socket.write(short.subarray(sent, ++sent));
          if (sent === short.length) {
            clearInterval(timer);
            resolve();
          }
        }, 20);
      });
    });
    const manifest = h.manifest([{ path: 'short-drip.bin', size: short.length }]);
    const report = await h.fetch(manifest, { ...floor, minSpeed: 0, retries: 0 });
    expect(report.ok).toBe(true);
    expect((await h.cached(manifest.fragments[0]!))?.equals(short)).toBe(true);
  });

  it('takes --min-speed RATE and --min-speed-time DURATION on the command line: exit 1, ESLOW', async () => {
    h.server.on('/drip.bin', drip);
    const file = `${h.cacheDir}/manifest.json`;
    await writeFile(
      file,
      JSON.stringify({
        version: 1,
        baseUrls: [h.server.url('/')],
        fragments: [{ path: 'drip.bin', size: body.length }],
      }),
    );
    const argv = ['fetch', file, '--cache', h.cacheDir, '--json', '--retries', '0'];
    const result = await runCli([...argv, '--min-speed', '1KB', '--min-speed-time', '200ms']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { failures: { error: { code: string; message: string } }[] };
    expect(report.failures.map((f) => f.error.code)).toEqual(['ESLOW']);
    expect(report.failures[0]!.error.message).toContain('under the floor of 1000 B/s');
    expect((await runCli([...argv, '--min-speed', 'slow'])).code).toBe(2);
  });
});
