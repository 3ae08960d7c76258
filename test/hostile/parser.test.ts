import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytesSeeded } from '../support/fixtures.js';
import { failure, type Hostile, hostile } from './support.js';

/**
 * Malformed heads, once our own HTTP/1.1 parser's cases: undici's (llhttp) now refuses each, and
 * every one settles as one ENETWORK line with nothing cached.
 */
let h: Hostile;
beforeEach(async () => {
  h = await hostile();
});
afterEach(async () => {
  await h.close();
});

const body = randomBytesSeeded(1000, 'parser');

const cases: [string, string | Buffer, RegExp][] = [
  [
    'a head with bare LF line ends',
    Buffer.concat([Buffer.from('HTTP/1.1 200 OK\nContent-Length: 1000\n\n'), body]),
    /HTTP\/1\.1 protocol \(Missing expected CR after response line\)$/,
  ],
  [
    'a head longer than 16 KiB',
    `HTTP/1.1 200 OK\r\nX-Long: ${'a'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`,
    /failed: the response head is longer than 16 KiB/,
  ],
  ['no status line', Buffer.concat([Buffer.from('garbage\r\n\r\n'), body]), /\(Expected HTTP\//],
  ['a status that is not a number', 'HTTP/1.1 2xx OK\r\nContent-Length: 0\r\n\r\n', /HTTP\/1\.1 protocol/],
  [
    'a header line without a colon',
    'HTTP/1.1 200 OK\r\nbroken\r\nContent-Length: 0\r\n\r\n',
    /HTTP\/1\.1 protocol/,
  ],
  ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /HTTP\/1\.1 protocol/],
  ['a connection closed mid-head', 'HTTP/1.1 200 OK\r\nContent-Len', /closed the connection/],
];

describe('malformed heads', () => {
  for (const [what, response, message] of cases) {
    it(`settles ${what} as ENETWORK, nothing cached`, async () => {
      h.server.on('/bad.bin', (socket) => {
        socket.write(response);
      });
      const manifest = h.manifest([{ path: 'bad.bin' }]);
      const report = await h.fetch(manifest, { retries: 1, timeoutMs: 120_000, stallTimeoutMs: 120_000 });
      const error = failure(report);
      expect(error.code).toBe('ENETWORK');
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('\n');
      expect(await h.cached(manifest.fragments[0]!)).toBeUndefined();
      await h.expectSound(0);
    });
  }
});
