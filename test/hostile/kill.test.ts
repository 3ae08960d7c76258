import cacache from 'cacache';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/cache/store.js';
import { runCli, spawnCli } from '../support/cli.js';
import { randomBytesSeeded, sriOf } from '../support/fixtures.js';
import { type Harness, harness } from '../support/harness.js';

/**
 * A kill -9 at any moment costs at most ~5 % of the object or 8 MiB, whichever is larger: the
 * partial state is saved by bytes as well as by time. Served by the test CDN, which counts the
 * bytes it wrote; paced per connection so that the kill lands where we want it.
 */
const MiB = 1024 * 1024;
let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const sentFor = (path: string) => h.cdn.requestsFor(path).reduce((sum, r) => sum + r.bytesSent, 0);

const same = { etag: '"kill"', lastModified: new Date('2026-01-01T00:00:00Z') };

describe('kill -9', () => {
  for (const killAt of [3 * MiB, 10 * MiB, 30 * MiB]) {
    it(`after ${killAt / MiB} MiB of 48 MiB costs at most 8 MiB`, async () => {
      const body = randomBytesSeeded(48 * MiB, 'kill');
      // Six ranges of 8 MiB at 2 MiB/s each: 12 MiB/s, 10 MiB within the first second.
      h.cdn.set('/m/a.bin', body, { limitRate: 2 * MiB, ...same });
      const file = await h.manifestFile([{ path: 'a.bin', size: body.length, integrity: sriOf(body) }]);
      const child = spawnCli(['fetch', file, '--cache', h.cacheDir, '--no-progress']);
      // Counted as the sockets accept the bytes, responses in flight included: the log alone would
      // see them only as each 8 MiB range ends.
      await Promise.race([h.cdn.until(() => h.cdn.bytesSent >= killAt), once(child, 'exit')]);
      expect(child.exitCode).toBeNull();
      child.kill('SIGKILL');
      await child.done;
      await h.cdn.idle();
      const firstSent = sentFor('/m/a.bin');
      h.cdn.reset();
      // The same version, no longer paced.
      h.cdn.set('/m/a.bin', body, same);

      const result = await runCli(['fetch', file, '--cache', h.cacheDir, '--json']);
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout) as { bytes: { resumed: number } };
      await h.cdn.idle();
      const secondSent = sentFor('/m/a.bin');
      expect(secondSent).toBe(body.length - report.bytes.resumed);
      // What the first run received and the second asked for again.
      expect(firstSent - report.bytes.resumed).toBeLessThanOrEqual(8 * MiB);
      expect(
        (
          await cacache.get(
            h.cacheDir,
            cacheKey(
              h.manifest([{ path: 'a.bin', size: body.length, integrity: sriOf(body) }]).fragments[0]!,
            ),
          )
        ).data.equals(body),
      ).toBe(true);
      const verified = await cacache.verify(h.cacheDir);
      expect(verified.badContentCount).toBe(0);
    });
  }
});
