import { mkdir, readFile, stat, symlink } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PartialFiles } from '../../src/cache/partial.js';
import { cacheKey } from '../../src/cache/store.js';
import { randomBytesSeeded } from '../support/fixtures.js';
import { pollUntil } from '../support/poll.js';
import { head } from './raw-server.js';
import { failure, type Hostile, hostile } from './support.js';

/** What the partial folder holds at the moments that matter: the first answer, a full disk. */
let h: Hostile;
beforeEach(async () => {
  h = await hostile();
});
afterEach(async () => {
  await h.close();
});

const body = randomBytesSeeded(600_000, 'state');

describe('the partial state', () => {
  it('is saved at once on the first answer, before any byte of the body', async () => {
    let answered!: () => void;
    const hold = new Promise<void>((resolve) => (answered = resolve));
    h.server.on('/held.bin', async (socket) => {
      socket.write(
        head('200 OK', [
          ['Content-Length', body.length],
          ['ETag', '"held"'],
        ]),
      );
      await hold;
      socket.write(body);
    });
    const manifest = h.manifest([{ path: 'held.bin', size: body.length }]);
    const files = new PartialFiles(h.cacheDir, cacheKey(manifest.fragments[0]!));
    const run = h.fetch(manifest);
    let state: string | undefined;
    await pollUntil(
      async () => {
        state = await readFile(files.statePath, 'utf8').catch(() => undefined);
        return state !== undefined;
      },
      { or: run },
    );
    expect(JSON.parse(state!)).toMatchObject({ etag: '"held"', size: body.length, spans: [] });
    answered();
    expect((await run).ok).toBe(true);
    expect((await h.cached(manifest.fragments[0]!))?.equals(body)).toBe(true);
  });

  it('is dropped with its data on a full disk when it cannot be resumed (no length known)', async () => {
    h.server.on('/chunked.bin', (socket) => {
      socket.write(head('200 OK', [['Transfer-Encoding', 'chunked']]));
      socket.end(`${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`, 'latin1');
    });
    const manifest = h.manifest([{ path: 'chunked.bin' }]);
    const files = new PartialFiles(h.cacheDir, cacheKey(manifest.fragments[0]!));
    await mkdir(files.dir, { recursive: true });
    await symlink('/dev/full', files.dataPath);
    const report = await h.fetch(manifest);
    expect(failure(report).code).toBe('ENOSPC');
    await expect(stat(files.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
