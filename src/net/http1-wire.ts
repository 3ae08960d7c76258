/**
 * The HTTP/1.1 wire format, as far as a client that sends GET and HEAD needs it (RFC 9112): the
 * request head it writes, the response head it reads, how the body is framed, and the chunked
 * coding. Pure: no sockets here (see http1.ts).
 */

export type Headers = Record<string, string | undefined>;

export interface ResponseHead {
  status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  headers: Headers;
  /** HTTP/1.0, or `Connection: close`: the connection ends with this response. */
  close: boolean;
}

/** How the body after a response head is delimited (RFC 9112 §6.3). */
export type Framing =
  { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

/** The longest response head accepted, as Node's own `--max-http-header-size` default. */
export const MAX_HEAD_BYTES = 16 * 1024;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DIGITS = /^\d+$/;

export class WireError extends Error {
  readonly code = 'FF_BAD_RESPONSE';
}

export function requestHead(
  method: string,
  target: string,
  host: string,
  headers: Record<string, string>,
): string {
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const name in headers) {
    const value = headers[name]!;
    // A header from the command line must not smuggle a second line into the request.
    if (!validName(name) || /[\r\n\0]/.test(value))
      throw new TypeError(`invalid request header ${JSON.stringify(name)}`);
    if (name.length === 4 && name.toLowerCase() === 'host') continue;
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/** Names already checked: the same few go out with every request. */
const VALID_NAMES = new Set<string>();

function validName(name: string): boolean {
  if (VALID_NAMES.has(name)) return true;
  if (!TOKEN.test(name)) return false;
  if (VALID_NAMES.size < 256) VALID_NAMES.add(name);
  return true;
}

/** Where the head ends (the index just past its blank line), or -1 while it is incomplete. */
export function headEnd(buffer: Buffer): number {
  const at = buffer.indexOf('\r\n\r\n', 0, 'latin1');
  if (at >= 0) return at + 4;
  if (buffer.length > MAX_HEAD_BYTES)
    throw new WireError(`response head longer than ${MAX_HEAD_BYTES} bytes`);
  return -1;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/;

/** One pass over the head's lines, without splitting it first: ~25 µs a response had shown. */
export function parseHead(text: string): ResponseHead {
  const firstEnd = lineEnd(text, 0);
  const statusLine = text.slice(0, firstEnd);
  const status = STATUS_LINE.exec(statusLine);
  if (!status) throw new WireError(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers: Headers = {};
  for (let at = firstEnd + 2; at < text.length;) {
    const end = lineEnd(text, at);
    if (end > at) {
      const colon = text.indexOf(':', at);
      if (colon <= at || colon > end) {
        throw new WireError(
          `malformed header line: ${JSON.stringify(text.slice(at, Math.min(end, at + 80)))}`,
        );
      }
      const name = text.slice(at, colon).trim().toLowerCase();
      const value = text.slice(colon + 1, end).trim();
      const before = headers[name];
      headers[name] = before === undefined ? value : `${before}, ${value}`;
    }
    at = end + 2;
  }
  const connection = headers.connection?.toLowerCase() ?? '';
  const close = status[1] === '0' ? !/\bkeep-alive\b/.test(connection) : /\bclose\b/.test(connection);
  return { status: Number(status[2]), headers, close };
}

/** Where the line that starts at `at` ends (its CRLF, or the text's end). */
function lineEnd(text: string, at: number): number {
  const end = text.indexOf('\r\n', at);
  return end < 0 ? text.length : end;
}

export function framing(method: string, head: ResponseHead): Framing {
  const { status, headers } = head;
  if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200))
    return { kind: 'none' };
  const coding = headers['transfer-encoding'];
  if (coding !== undefined) {
    if (/(?:^|,)\s*chunked\s*$/i.test(coding)) return { kind: 'chunked' };
    return { kind: 'close' };
  }
  const length = headers['content-length'];
  if (length === undefined) return { kind: 'close' };
  if (DIGITS.test(length) && length.length < 16) return { kind: 'length', length: Number(length) };
  // Repeated identical values ("10, 10") are allowed; differing ones are not.
  const values = new Set(length.split(',').map((part) => part.trim()));
  const only = [...values][0] ?? '';
  if (values.size !== 1 || !/^\d+$/.test(only) || !Number.isSafeInteger(Number(only))) {
    throw new WireError(`invalid Content-Length: ${JSON.stringify(length)}`);
  }
  return { kind: 'length', length: Number(only) };
}

/**
 * Decodes the chunked transfer coding incrementally: feed it what the socket gives, get back the data
 * within (views, not copies). `done` once the last chunk and the trailer section have been read;
 * `rest` is what followed them.
 */
export class ChunkedDecoder {
  #state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';
  #line = '';
  #remaining = 0;

  get done(): boolean {
    return this.#state === 'done';
  }

  push(input: Buffer): { data: Buffer[]; rest: Buffer | undefined } {
    const data: Buffer[] = [];
    let at = 0;
    while (at < input.length && this.#state !== 'done') {
      if (this.#state === 'data') {
        const take = Math.min(this.#remaining, input.length - at);
        data.push(input.subarray(at, at + take));
        at += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = 'data-end';
        continue;
      }
      // The other states read lines.
      const newline = input.indexOf(0x0a, at);
      const end = newline < 0 ? input.length : newline + 1;
      this.#line += input.toString('latin1', at, end);
      at = end;
      if (this.#line.length > 4096) throw new WireError('chunked coding: line too long');
      if (newline < 0) break;
      const line = this.#line.replace(/\r?\n$/, '');
      this.#line = '';
      if (this.#state === 'size') {
        const size = /^([0-9a-fA-F]{1,13})[ \t]*(?:;.*)?$/.exec(line);
        if (!size) throw new WireError(`chunked coding: bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
        this.#remaining = Number.parseInt(size[1]!, 16);
        this.#state = this.#remaining === 0 ? 'trailer' : 'data';
      } else if (this.#state === 'data-end') {
        if (line !== '') throw new WireError('chunked coding: chunk not followed by CRLF');
        this.#state = 'size';
      } else if (line === '') {
        this.#state = 'done';
      }
    }
    return { data, rest: this.#state === 'done' && at < input.length ? input.subarray(at) : undefined };
  }
}
