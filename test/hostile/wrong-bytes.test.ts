import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytesSeeded } from '../support/fixtures.js';
import type { Socket } from 'node:net';
import { head, partial, type RawRequest, whole } from './raw-server.js';
import { failure, type Hostile, hostile, SPLIT } from './support.js';

/**
 * Servers that send the wrong bytes. Each answer must end in a refusal or a restart: the cache
 * holds the honest bytes of one version, or nothing.
 */
let h: Hostile;
beforeEach(async () => {
  h = await hostile();
});
afterEach(async () => {
  await h.close();
});

const v1 = randomBytesSeeded(4000, 'v1');
const v2 = randomBytesSeeded(4000, 'v2');

describe('validators that change between ranges', () => {
  it('restarts when a validator appears in a later range and the first had none', async () => {
    h.server.on('/late.bin', (socket, request) => {
      socket.write(request.count === 1 ? partial(v1, request) : partial(v2, request, [['ETag', '"v2"']]));
    });
    const manifest = h.manifest([{ path: 'late.bin', size: 4000 }]);
    const report = await h.fetch(manifest, SPLIT);
    expect(report.ok).toBe(true);
    expect(report.retries).toBeGreaterThanOrEqual(1);
    expect((await h.cached(manifest.fragments[0]!))?.equals(v2)).toBe(true);
    await h.expectSound(1);
  });

  it('restarts when a Last-Modified appears in a later range and the first had none', async () => {
    const date = 'Wed, 21 Oct 2026 07:28:00 GMT';
    h.server.on('/late-date.bin', (socket, request) => {
      socket.write(
        request.count === 1 ? partial(v1, request) : partial(v2, request, [['Last-Modified', date]]),
      );
    });
    const manifest = h.manifest([{ path: 'late-date.bin', size: 4000 }]);
    const report = await h.fetch(manifest, SPLIT);
    expect(report.ok).toBe(true);
    expect((await h.cached(manifest.fragments[0]!))?.equals(v2)).toBe(true);
    await h.expectSound(1);
  });

  it('restarts when a validator disappears in a later range', async () => {
    h.server.on('/gone.bin', (socket, request) => {
      socket.write(request.count === 1 ? partial(v1, request, [['ETag', '"v1"']]) : partial(v2, request));
    });
    const manifest = h.manifest([{ path: 'gone.bin', size: 4000 }]);
    const report = await h.fetch(manifest, SPLIT);
    expect(report.ok).toBe(true);
    expect((await h.cached(manifest.fragments[0]!))?.equals(v2)).toBe(true);
    await h.expectSound(1);
  });

  it('restarts when a weak ETag changes, and never sends a weak ETag in If-Range', async () => {
    h.server.on('/weak.bin', (socket, request) => {
      socket.write(
        request.count === 1
          ? partial(v1, request, [['ETag', 'W/"v1"']])
          : partial(v2, request, [['ETag', 'W/"v2"']]),
      );
    });
    const manifest = h.manifest([{ path: 'weak.bin', size: 4000 }]);
    const report = await h.fetch(manifest, SPLIT);
    expect(report.ok).toBe(true);
    expect(report.retries).toBeGreaterThanOrEqual(1);
    expect((await h.cached(manifest.fragments[0]!))?.equals(v2)).toBe(true);
    expect(h.server.requests.filter((r) => r.headers['if-range'] !== undefined)).toEqual([]);
    await h.expectSound(1);
  });

  it('keeps an unchanged weak ETag: one version, no restart', async () => {
    h.server.on('/weak-same.bin', (socket, request) => {
      socket.write(partial(v1, request, [['ETag', 'W/"v1"']]));
    });
    const manifest = h.manifest([{ path: 'weak-same.bin', size: 4000 }]);
    const report = await h.fetch(manifest, SPLIT);
    expect(report.ok).toBe(true);
    expect(report.retries).toBe(0);
    expect(h.server.requests).toHaveLength(4);
    expect((await h.cached(manifest.fragments[0]!))?.equals(v1)).toBe(true);
  });
});

describe('a body that does not match its range', () => {
  // A 206 for 0-999 that says 0-699: the 300 bytes after its range are not the object's.
  const garbage = Buffer.alloc(300, 0x55);
  const lying = (chunked: boolean) => (socket: Socket, request: RawRequest) => {
    if (request.range?.start !== 0) {
      socket.write(partial(v1, request));
      return;
    }
    const body = Buffer.concat([v1.subarray(0, 700), garbage]);
    const fields: [string, string | number][] = [['Content-Range', 'bytes 0-699/4000']];
    fields.push(chunked ? ['Transfer-Encoding', 'chunked'] : ['Content-Length', body.length]);
    socket.write(head('206 Partial Content', fields));
    socket.write(chunked ? `${body.length.toString(16)}\r\n` : '');
    socket.write(body);
    socket.write(chunked ? '\r\n0\r\n\r\n' : '');
  };

  it('refuses a 206 whose Content-Length runs past its Content-Range', async () => {
    h.server.on('/past.bin', lying(false));
    const manifest = h.manifest([{ path: 'past.bin', size: 4000 }]);
    const report = await h.fetch(manifest, SPLIT);
    expect(report.ok).toBe(false);
    const { code, message } = failure(report);
    expect(code).toBe('ERANGE');
    expect(message).toMatch(/Content-Length 1000.*Content-Range bytes 0-699/);
    expect(await h.cached(manifest.fragments[0]!)).toBeUndefined();
    await h.expectSound(0);
  });

  it('refuses a chunked 206 whose body runs past its Content-Range', async () => {
    h.server.on('/past-chunked.bin', lying(true));
    const manifest = h.manifest([{ path: 'past-chunked.bin', size: 4000 }]);
    const report = await h.fetch(manifest, SPLIT);
    expect(report.ok).toBe(false);
    const { code, message } = failure(report);
    expect(code).toBe('ERANGE');
    expect(message).toMatch(/longer than its Content-Range bytes 0-699/);
    expect(await h.cached(manifest.fragments[0]!)).toBeUndefined();
  });

  it('takes a 206 shorter than asked, and asks for the rest', async () => {
    h.server.on('/short.bin', (socket, request) => {
      const start = request.range!.start;
      // Half of what was asked, honestly labelled.
      const end = Math.min(start + 500, 4000);
      socket.write(partial(v1, { ...request, range: { start, end } }));
    });
    const manifest = h.manifest([{ path: 'short.bin', size: 4000 }]);
    const report = await h.fetch(manifest, { ...SPLIT, retries: 8 });
    expect(report.ok).toBe(true);
    expect((await h.cached(manifest.fragments[0]!))?.equals(v1)).toBe(true);
  });
});

describe('content and transfer codings', () => {
  const coded = (fields: [string, string][]) => (socket: Socket, request: RawRequest) => {
    socket.write(request.range ? partial(v1, request, fields) : whole(v1, fields));
  };

  it('refuses Content-Encoding: gzip on a 206', async () => {
    h.server.on('/gzip-range.bin', coded([['Content-Encoding', 'gzip']]));
    const manifest = h.manifest([{ path: 'gzip-range.bin', size: 4000 }]);
    const report = await h.fetch(manifest, SPLIT);
    const { code, message } = failure(report);
    expect(code).toBe('EENCODING');
    expect(message).toMatch(/Content-Encoding gzip.*identity/);
    expect(await h.cached(manifest.fragments[0]!)).toBeUndefined();
    await h.expectSound(0);
  });

  it('refuses Content-Encoding: gzip on a 200 of undeclared size, large or small', async () => {
    h.server.on('/gzip.bin', coded([['Content-Encoding', 'gzip']]));
    h.server.on('/gzip-small.bin', coded([['Content-Encoding', 'br']]));
    const manifest = h.manifest([{ path: 'gzip.bin' }, { path: 'gzip-small.bin', size: 4000 }]);
    const report = await h.fetch(manifest);
    expect(report.failures.map((f) => f.error.code)).toEqual(['EENCODING', 'EENCODING']);
    for (const fragment of manifest.fragments) expect(await h.cached(fragment)).toBeUndefined();
    await h.expectSound(0);
  });

  it('accepts Content-Encoding: identity', async () => {
    h.server.on('/identity.bin', coded([['Content-Encoding', 'identity']]));
    const manifest = h.manifest([{ path: 'identity.bin' }]);
    const report = await h.fetch(manifest);
    expect(report.ok).toBe(true);
    expect((await h.cached(manifest.fragments[0]!))?.equals(v1)).toBe(true);
  });

  for (const coding of ['gzip, chunked', 'chunked, identity', 'identity']) {
    it(`refuses Transfer-Encoding: ${coding}, never storing coded bytes or chunk framing`, async () => {
      h.server.on('/te.bin', (socket) => {
        socket.write(head('200 OK', [['Transfer-Encoding', coding]]));
        socket.write(`${v1.length.toString(16)}\r\n`);
        socket.write(v1);
        socket.end('\r\n0\r\n\r\n');
      });
      const manifest = h.manifest([{ path: 'te.bin' }]);
      const report = await h.fetch(manifest);
      expect(report.ok).toBe(false);
      const { code, message } = failure(report);
      expect(code).toBe('EENCODING');
      expect(message).toContain(`Transfer-Encoding ${coding}, of which only chunked is read`);
      expect(await h.cached(manifest.fragments[0]!)).toBeUndefined();
      await h.expectSound(0);
    });
  }
});

describe('a kept-alive connection', () => {
  it('never takes bytes nobody asked for as the next response', async () => {
    const a = randomBytesSeeded(3000, 'a');
    const b = randomBytesSeeded(3000, 'b');
    const evil = randomBytesSeeded(3000, 'evil');
    h.server.on('/a.bin', (socket) => {
      // The answer, then a whole second answer that no request asked for.
      socket.write(Buffer.concat([whole(a, [['Connection', 'keep-alive']]), whole(evil)]));
      return 'keep';
    });
    h.server.on('/b.bin', (socket) => {
      socket.write(whole(b));
      return 'keep';
    });
    const manifest = h.manifest([
      { path: 'a.bin', size: 3000 },
      { path: 'b.bin', size: 3000 },
    ]);
    const report = await h.fetch(manifest, { concurrency: 1 });
    expect(report.ok).toBe(true);
    expect((await h.cached(manifest.fragments[0]!))?.equals(a)).toBe(true);
    expect((await h.cached(manifest.fragments[1]!))?.equals(b)).toBe(true);
    await h.expectSound(2);
  });

  it('never takes bytes written later on an idle connection as the next response', async () => {
    const a = randomBytesSeeded(3000, 'a');
    const b = randomBytesSeeded(3000, 'b');
    const evil = randomBytesSeeded(3000, 'evil');
    let sent!: () => void;
    const written = new Promise<void>((resolve) => (sent = resolve));
    h.server.on('/a.bin', (socket) => {
      socket.write(whole(a));
      setImmediate(() => socket.write(whole(evil), () => sent()));
      return 'keep';
    });
    h.server.on('/b.bin', async (socket) => {
      await written;
      socket.write(whole(b));
      return 'keep' as const;
    });
    const manifest = h.manifest([
      { path: 'a.bin', size: 3000 },
      { path: 'b.bin', size: 3000 },
    ]);
    const report = await h.fetch(manifest, { concurrency: 1 });
    expect((await h.cached(manifest.fragments[1]!))?.equals(evil)).not.toBe(true);
    expect(report.ok).toBe(true);
    expect((await h.cached(manifest.fragments[1]!))?.equals(b)).toBe(true);
  });
});
