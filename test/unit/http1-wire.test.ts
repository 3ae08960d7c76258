import { describe, expect, it } from 'vitest';
import { ChunkedDecoder, framing, headEnd, parseHead, requestHead } from '../../src/net/http1-wire.js';

describe('HTTP/1.1 wire format', () => {
  it('writes a request head with the host and the headers, and refuses a header that smuggles a line', () => {
    expect(requestHead('GET', '/a?b=1', 'cdn:8080', { range: 'bytes=0-9', Host: 'ignored' })).toBe(
      'GET /a?b=1 HTTP/1.1\r\nhost: cdn:8080\r\nrange: bytes=0-9\r\n\r\n',
    );
    expect(() => requestHead('GET', '/', 'h', { 'x-a': 'v\r\nx-b: evil' })).toThrow(/invalid request header/);
    expect(() => requestHead('GET', '/', 'h', { 'bad name': 'v' })).toThrow(/invalid request header/);
  });

  it('finds the end of a head, and refuses one too long', () => {
    expect(headEnd(Buffer.from('HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody'))).toBe(25);
    expect(headEnd(Buffer.from('HTTP/1.1 200 OK\r\nA: b\r\n'))).toBe(-1);
    expect(() => headEnd(Buffer.alloc(17 * 1024, 'a'))).toThrow(/longer than/);
  });

  it('parses status and headers, joins repeated fields, and knows when the connection closes', () => {
    const head = parseHead(
      'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100\r\nVia: a\r\nvia: b',
    );
    expect(head).toEqual({
      status: 206,
      headers: { 'content-range': 'bytes 0-9/100', via: 'a, b' },
      close: false,
    });
    expect(parseHead('HTTP/1.1 200 OK\r\nConnection: close').close).toBe(true);
    expect(parseHead('HTTP/1.0 200 OK').close).toBe(true);
    expect(parseHead('HTTP/1.0 200 OK\r\nConnection: keep-alive').close).toBe(false);
    expect(() => parseHead('SSH-2.0-OpenSSH')).toThrow(/not an HTTP\/1.x status line/);
    expect(() => parseHead('HTTP/1.1 200 OK\r\nno colon here')).toThrow(/malformed header line/);
    expect(() => parseHead('HTTP/1.1 200 OK\r\n: no name')).toThrow(/malformed header line/);
    // A colon on a later line is not this line's.
    expect(() => parseHead('HTTP/1.1 200 OK\r\nno colon\r\nA: b')).toThrow(
      /malformed header line: "no colon"/,
    );
    expect(parseHead('HTTP/1.1 204 No Content\r\n\r\nX:  spaced  \r\n').headers).toEqual({ x: 'spaced' });
    expect(parseHead('HTTP/1.1 200 OK\r\nA: b\nc').headers).toEqual({ a: 'b\nc' });
  });

  it('frames bodies as RFC 9112 says', () => {
    const head = (status: number, headers: Record<string, string>) => ({ status, headers, close: false });
    expect(framing('HEAD', head(200, { 'content-length': '10' }))).toEqual({ kind: 'none' });
    expect(framing('GET', head(304, {}))).toEqual({ kind: 'none' });
    expect(framing('GET', head(200, { 'transfer-encoding': 'chunked', 'content-length': '5' }))).toEqual({
      kind: 'chunked',
    });
    expect(framing('GET', head(200, { 'transfer-encoding': 'gzip' }))).toEqual({ kind: 'close' });
    expect(framing('GET', head(200, { 'content-length': '10, 10' }))).toEqual({ kind: 'length', length: 10 });
    expect(framing('GET', head(200, {}))).toEqual({ kind: 'close' });
    expect(() => framing('GET', head(200, { 'content-length': '10, 11' }))).toThrow(/invalid Content-Length/);
    expect(() => framing('GET', head(200, { 'content-length': '-1' }))).toThrow(/invalid Content-Length/);
    expect(() => framing('GET', head(200, { 'content-length': '1e3' }))).toThrow(/invalid Content-Length/);
    expect(() => framing('GET', head(200, { 'content-length': '99999999999999999' }))).toThrow(
      /invalid Content-Length/,
    );
    expect(framing('GET', head(200, { 'content-length': '0' }))).toEqual({ kind: 'length', length: 0 });
  });

  it('decodes the chunked coding fed byte by byte or all at once, with extensions and trailers', () => {
    const wire = Buffer.from('5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT');
    for (const step of [1, 3, wire.length]) {
      const decoder = new ChunkedDecoder();
      const data: Buffer[] = [];
      let rest: Buffer | undefined;
      for (let at = 0; at < wire.length; at += step) {
        const out = decoder.push(wire.subarray(at, at + step));
        data.push(...out.data);
        rest = out.rest ?? rest;
        if (decoder.done) {
          const after = wire.subarray(at + step);
          rest = after.length > 0 ? Buffer.concat([rest ?? Buffer.alloc(0), after]) : rest;
          break;
        }
      }
      expect(Buffer.concat(data).toString()).toBe('hello, world');
      expect(decoder.done).toBe(true);
      expect(rest?.toString()).toBe('NEXT');
    }
  });

  it('refuses a malformed chunked body', () => {
    expect(() => new ChunkedDecoder().push(Buffer.from('zz\r\n'))).toThrow(/bad chunk size/);
    expect(() => new ChunkedDecoder().push(Buffer.from('2\r\nabX\r\n'))).toThrow(/not followed by CRLF/);
  });
});
