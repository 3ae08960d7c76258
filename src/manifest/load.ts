import { open } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import { fileURLToPath } from 'node:url';
import { displayUrl, FragfetchError } from '../errors.js';
import { withoutLogins } from '../net/credentials.js';
import { HttpClient, type HttpResponse, type NetworkOptions } from '../net/http.js';
import { formatBytes } from '../units.js';
import type { Manifest } from './fragment.js';
import { fromRead, parseManifestText, type ReadManifest, readManifestText } from './parse.js';

export interface LoadManifestOptions {
  /** Sent with an HTTP request, e.g. an Authorization header for a private bucket. */
  headers?: Record<string, string>;
  /** How long to wait for the response headers, and at most between two chunks of the body. */
  timeoutMs?: number;
  /** Proxies, TLS and credentials: the fragments' requests use the same. */
  network?: NetworkOptions | undefined;
}

/** A manifest is a list of fragments, not a payload: anything this large is a wrong URL or an attack. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

/** Reads and validates a manifest from a file path, a `file:` URL or an `http(s)` URL. */
export async function loadManifest(source: string, options: LoadManifestOptions = {}): Promise<Manifest> {
  if (/^https?:\/\//i.test(source)) return parseManifestText(await fetchText(source, options), source);
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(source)?.[1];
  if (scheme !== undefined && scheme.toLowerCase() !== 'file:') {
    throw new FragfetchError(
      'EMANIFEST',
      `cannot read manifest ${displayUrl(source)}: unsupported URL scheme "${scheme}"`,
    );
  }
  return fromRead(await readManifest(source), source);
}

/**
 * The manifest or its document, read in a function of its own: its text (38 MB for 10^6
 * fragments) is no longer reachable, from a register of a frame still running, while a document's
 * fragments are built.
 */
async function readManifest(source: string): Promise<ReadManifest> {
  return readManifestText(await readText(source), source);
}

async function readText(source: string): Promise<string> {
  const path = source.toLowerCase().startsWith('file:') ? fileURLToPath(source) : source;
  try {
    const file = await open(path);
    try {
      // A regular file is read at once into one buffer of its size: chunks and their copy into one
      // were twice a large manifest's size. A pipe or a device has no size to trust: read capped.
      const info = await file.stat();
      if (!info.isFile()) return await readCapped(file.createReadStream({ autoClose: false }), source);
      if (info.size > MAX_MANIFEST_BYTES) throw tooLarge(source);
      return (await file.readFile()).toString('utf8');
    } finally {
      await file.close();
    }
  } catch (error) {
    if (error instanceof FragfetchError) throw error;
    throw new FragfetchError('EMANIFEST', `cannot read manifest ${source}: ${describeFsError(error)}`, {
      cause: error,
    });
  }
}

async function fetchText(url: string, options: LoadManifestOptions): Promise<string> {
  const shown = displayUrl(url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // The manifest goes the way its fragments will: the same client, proxies, TLS and credentials
  // (the manifest's own origin is one of them, and a login in its URL is for that origin only).
  const logins = new Map<string, string>();
  const [plain] = withoutLogins([url], logins) as [string];
  const http = new HttpClient({
    ...options.network,
    timeoutMs,
    stallTimeoutMs: timeoutMs,
    headers: options.headers ?? {},
    trust: {
      origins: [new URL(plain).origin],
      userinfo: logins,
    },
  });
  try {
    let response: HttpResponse;
    try {
      response = await http.request('GET', plain, {});
    } catch (error) {
      throw networkError(shown, error);
    }
    const { status, body } = response;
    if (status < 200 || status > 299) {
      body.destroy();
      const reason = STATUS_CODES[status] === undefined ? '' : ` ${STATUS_CODES[status]}`;
      // An error status is the server's trouble, not the manifest's: exit 1 like a failed fragment.
      throw new FragfetchError('EHTTP', `cannot fetch manifest ${shown}: HTTP ${status}${reason}`, {
        url,
        status,
      });
    }
    const length = Number(response.headers['content-length']);
    if (Number.isFinite(length) && length > MAX_MANIFEST_BYTES) {
      body.destroy();
      throw tooLarge(shown);
    }
    try {
      return await readCapped(body, shown);
    } catch (error) {
      if (error instanceof FragfetchError && error.code === 'EMANIFEST') throw error;
      throw networkError(shown, error);
    }
  } finally {
    await http.close().catch(() => http.destroy());
  }
}

async function readCapped(
  stream: AsyncIterable<Buffer> & { destroy(): void },
  shown: string,
): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > MAX_MANIFEST_BYTES) {
      stream.destroy();
      throw tooLarge(shown);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function tooLarge(shown: string): FragfetchError {
  return new FragfetchError(
    'EMANIFEST',
    `cannot read manifest ${shown}: larger than ${formatBytes(MAX_MANIFEST_BYTES)}, not a manifest`,
  );
}

/**
 * A manifest URL that cannot be reached is an outage, not a typo: it keeps the code HttpClient gave
 * (ENETWORK, ETIMEOUT, ETLS, EPROXY, EREDIRECT: exit 1, worth retrying later), where an unreadable
 * local file or invalid JSON is EMANIFEST (exit 2).
 */
function networkError(shown: string, error: unknown): FragfetchError {
  const message =
    error instanceof Error ? error.message.replace(/^GET \S+?:? (?:failed: )?/, '') : String(error);
  const status = error instanceof FragfetchError ? error.status : undefined;
  const code = error instanceof FragfetchError ? error.code : 'ENETWORK';
  return new FragfetchError(code, `cannot fetch manifest ${shown}: ${message}`, {
    url: shown,
    cause: error,
    ...(status === undefined ? {} : { status }),
  });
}

function describeFsError(error: unknown): string {
  switch (errorCode(error)) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}
