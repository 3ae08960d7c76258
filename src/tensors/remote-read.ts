import { displayUrl, FragfetchError } from '../errors.js';
import type { HttpResponse } from '../net/http.js';
import { BodyReader } from './body-reader.js';
import { ggufError, ggufTable } from './gguf.js';
import { headerLength, LENGTH_PREFIX_BYTES, parseSafetensorsHeader } from './safetensors.js';
import type { TensorTable } from './table.js';

/** The part of the project's HttpClient this module uses. */
export interface Requester {
  request(
    method: 'GET' | 'HEAD',
    url: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<HttpResponse>;
}

/** A remote file as its first answer described it. */
export interface RemoteObject {
  size: number;
  etag?: string;
  lastModified?: string;
  /** Requests this file cost. */
  requests: number;
}

/** A file on a server: the client to ask, its URL, and its name in messages. */
export interface RemoteFile {
  http: Requester;
  url: string;
  shown: string;
  signal?: AbortSignal;
}

/** One file's reading: what its first answer said, and how many requests it has cost. */
interface Reader extends RemoteFile {
  object: RemoteObject | undefined;
  requests: number;
}

function readerOf(file: RemoteFile): Reader {
  return { ...file, object: undefined, requests: 0 };
}

/**
 * A safetensors header by two range requests: the 8-byte length, then the header. The second is
 * conditional on the first's validator (`If-Range`), so a file replaced in between is noticed
 * instead of spliced. A server that ignores Range answers the first with the whole file: the header
 * is then read from that one stream, closed as soon as it has been.
 */
export async function readRemoteSafetensors(
  file: RemoteFile,
): Promise<{ table: TensorTable; object: RemoteObject }> {
  const reader = readerOf(file);
  const { shown } = file;
  const first = await rangeGet(reader, 0, LENGTH_PREFIX_BYTES);
  const object = reader.object as RemoteObject;
  let header: Buffer;
  try {
    const length = headerLength(shown, await first.body.take(LENGTH_PREFIX_BYTES), object.size);
    if (first.whole) header = await first.body.take(length);
    else {
      first.body.close();
      const second = await rangeGet(reader, LENGTH_PREFIX_BYTES, length);
      if (second.whole) {
        second.body.close();
        throw changed(reader);
      }
      header = await second.body.take(length).finally(() => second.body.close());
    }
    if (header.length < length) throw short(reader);
  } finally {
    first.body.close();
  }
  object.requests = reader.requests;
  return { table: parseSafetensorsHeader(shown, header, object.size), object };
}

/**
 * A GGUF header through `@huggingface/gguf`, whose `fetch` is served by our client: the parser
 * asks for 2 MB ranges from the start until it has the tensor infos, one request for most files.
 */
export async function readRemoteGguf(
  file: RemoteFile,
): Promise<{ table: TensorTable; object: RemoteObject }> {
  const reader = readerOf(file);
  const { url, shown } = file;
  const fetchRange = async (
    _input: unknown,
    init?: { headers?: Record<string, string> },
  ): Promise<Response> => {
    const match = /^bytes=(\d+)-(\d+)$/.exec(init?.headers?.['Range'] ?? '');
    if (!match) throw new Error('the GGUF parser asked for something other than a range');
    const start = Number(match[1]);
    const length = Number(match[2]) - start + 1;
    const known = reader.object?.size;
    // Past the end, a server answers 416: the parser only needs to see that nothing is there.
    if (known !== undefined && start >= known) return new Response(new Uint8Array(0), { status: 206 });
    const answer = await rangeGet(reader, start, length);
    let bytes: Buffer;
    try {
      // A whole answer holds the range at its own offset: skip to it.
      if (answer.whole) await answer.body.take(start);
      bytes = await answer.body.take(length);
    } finally {
      answer.body.close();
    }
    const total = (reader.object as RemoteObject).size;
    return new Response(bytes, {
      status: 206,
      headers: { 'content-range': `bytes ${start}-${start + bytes.length - 1}/${total}` },
    });
  };
  const { gguf } = await import('@huggingface/gguf');
  let parsed;
  try {
    parsed = await gguf(url, { fetch: fetchRange as unknown as typeof fetch });
  } catch (error) {
    if (error instanceof FragfetchError) throw error;
    throw ggufError(shown, error);
  }
  const object = reader.object as RemoteObject;
  object.requests = reader.requests;
  return { table: ggufTable(shown, parsed, object.size), object };
}

/** A whole small file (a shard index), refused past `limit` bytes. */
export async function readRemoteText(
  file: RemoteFile,
  limit: number,
): Promise<{ text: string; object: RemoteObject }> {
  const reader = readerOf(file);
  const { shown } = file;
  const answer = await send(reader, 'GET', {});
  const reading = new BodyReader(answer.body, false);
  const body = await reading.take(limit + 1).finally(() => reading.close());
  if (body.length > limit) {
    throw new FragfetchError('EMANIFEST', `${shown}: larger than the ${limit} bytes a shard index may have`);
  }
  const object = describeObject(answer, body.length, 1);
  return { text: body.toString('utf8'), object };
}

/** A file fragfetch leaves whole: one HEAD for its length and validators. */
export async function headRemote(file: RemoteFile): Promise<RemoteObject> {
  const reader = readerOf(file);
  const { url } = file;
  const answer = await send(reader, 'HEAD', {});
  answer.body.resume();
  const size = Number(answer.headers['content-length']);
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new FragfetchError('EHTTP', `HEAD ${displayUrl(url)}: no Content-Length to size it by`, { url });
  }
  return describeObject(answer, size, 1);
}

async function rangeGet(
  reader: Reader,
  start: number,
  length: number,
): Promise<{ body: BodyReader; whole: boolean }> {
  const headers: Record<string, string> = { range: `bytes=${start}-${start + length - 1}` };
  const known = reader.object;
  const validator = known?.etag && !known.etag.startsWith('W/') ? known.etag : known?.lastModified;
  if (validator !== undefined) headers['if-range'] = validator;
  const answer = await send(reader, 'GET', headers);
  const ranged = answer.status === 206;
  // A 206 says the file's length after the "/" of Content-Range; a 200 in Content-Length.
  const total = ranged
    ? /\/(\d+)\s*$/.exec(answer.headers['content-range'] ?? '')?.[1]
    : answer.headers['content-length'];
  const size = Number(total);
  if (total === undefined || !Number.isSafeInteger(size)) {
    answer.body.destroy();
    const what = ranged ? "a 206 without the file's length" : 'no Content-Length to size it by';
    throw new FragfetchError(ranged ? 'ERANGE' : 'EHTTP', `GET ${displayUrl(reader.url)}: ${what}`, {
      url: reader.url,
    });
  }
  // A 200 to a conditional range is a changed file, or a server that ignores Range (and If-Range)
  // serving the same one whole: the validators tell which.
  if (known === undefined) reader.object = describeObject(answer, size, 0);
  else if (!sameObject(known, answer, size)) {
    answer.body.destroy();
    throw changed(reader);
  }
  return { body: new BodyReader(answer.body, ranged), whole: !ranged };
}

function sameObject(known: RemoteObject, answer: HttpResponse, size: number): boolean {
  const { etag, 'last-modified': lastModified } = answer.headers;
  return known.size === size && known.etag === etag && known.lastModified === lastModified;
}

async function send(
  reader: Reader,
  method: 'GET' | 'HEAD',
  headers: Record<string, string>,
): Promise<HttpResponse> {
  reader.requests++;
  const answer = await reader.http.request(method, reader.url, headers, reader.signal);
  if (answer.status === 200 || answer.status === 206) return answer;
  answer.body.destroy();
  throw new FragfetchError('EHTTP', `${method} ${displayUrl(reader.url)}: HTTP ${answer.status}`, {
    url: reader.url,
    status: answer.status,
  });
}

function describeObject(answer: HttpResponse, size: number, requests: number): RemoteObject {
  const object: RemoteObject = { size, requests };
  const etag = answer.headers['etag'];
  const lastModified = answer.headers['last-modified'];
  if (etag !== undefined) object.etag = etag;
  if (lastModified !== undefined) object.lastModified = lastModified;
  return object;
}

function changed(reader: Reader): FragfetchError {
  return new FragfetchError('ECHANGED', `${reader.shown}: changed on the server while its header was read`, {
    url: reader.url,
  });
}

function short(reader: Reader): FragfetchError {
  return new FragfetchError('ENETWORK', `GET ${displayUrl(reader.url)}: the body ended early`, {
    url: reader.url,
  });
}
