import { createReadStream } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { request } from 'undici';
import { FragfetchError, stripUrlAuth } from '../errors.js';
import { type ProxyEnv, proxyFor } from '../net/proxy-env.js';
import { formatBytes, formatDuration } from '../units.js';
import type { Manifest } from './fragment.js';
import { parseManifestText } from './parse.js';

export interface LoadManifestOptions {
  /** Sent with an HTTP request, e.g. an Authorization header for a private bucket. */
  headers?: Record<string, string>;
  /** How long to wait for the response headers, and at most between two chunks of the body. */
  timeoutMs?: number;
  /** Where the proxy variables are read (tests pass their own); the fragments' requests use the same. */
  env?: ProxyEnv;
}

/** A manifest is a list of fragments, not a payload: anything this large is a wrong URL or an attack. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_REDIRECTIONS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Reads and validates a manifest from a file path, a `file:` URL or an `http(s)` URL. */
export async function loadManifest(source: string, options: LoadManifestOptions = {}): Promise<Manifest> {
  if (/^https?:\/\//i.test(source)) return parseManifestText(await fetchText(source, options), source);
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(source)?.[1];
  if (scheme !== undefined && scheme.toLowerCase() !== 'file:') {
    throw new FragfetchError(
      'EMANIFEST',
      `cannot read manifest ${stripUrlAuth(source)}: unsupported URL scheme "${scheme}"`,
    );
  }
  return parseManifestText(await readText(source), source);
}

async function readText(source: string): Promise<string> {
  const path = source.toLowerCase().startsWith('file:') ? fileURLToPath(source) : source;
  try {
    return await readCapped(createReadStream(path), source);
  } catch (error) {
    if (error instanceof FragfetchError) throw error;
    throw new FragfetchError('EMANIFEST', `cannot read manifest ${source}: ${describeFsError(error)}`, {
      cause: error,
    });
  }
}

async function fetchText(url: string, options: LoadManifestOptions): Promise<string> {
  const shown = stripUrlAuth(url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers: Record<string, string> = { 'user-agent': 'fragfetch', ...options.headers };
  let response: Awaited<ReturnType<typeof request>>;
  try {
    // Loaded here, not at startup: most runs read a local manifest (see net/http.ts).
    const { getGlobalDispatcher, interceptors, ProxyAgent, request } = await import('undici');
    // Behind a proxy, the manifest goes the way its fragments will (net/http.ts).
    const proxy = proxyFor(new URL(url), options.env);
    const base = proxy === undefined ? getGlobalDispatcher() : new ProxyAgent({ uri: proxy });
    response = await request(url, {
      method: 'GET',
      headers,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      // Manifests on model hubs are commonly served through a redirect to a storage host.
      dispatcher: base.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS })),
    });
  } catch (error) {
    throw networkError(shown, error, timeoutMs);
  }

  const { statusCode, body } = response;
  if (statusCode < 200 || statusCode > 299) {
    await body.dump().catch(() => undefined);
    let reason = STATUS_CODES[statusCode] === undefined ? '' : ` ${STATUS_CODES[statusCode]}`;
    // The redirect interceptor hands back the last redirect once its budget is spent.
    if (REDIRECT_STATUSES.has(statusCode) && response.headers.location !== undefined)
      reason += ` (more than ${MAX_REDIRECTIONS} redirections)`;
    // An error status is the server's trouble, not the manifest's: exit 1 like a failed fragment.
    throw new FragfetchError('EHTTP', `cannot fetch manifest ${shown}: HTTP ${statusCode}${reason}`, {
      url,
      status: statusCode,
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
    if (error instanceof FragfetchError) throw error;
    throw networkError(shown, error, timeoutMs);
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
 * A manifest URL that cannot be reached is an outage, not a typo: it gets the network code a fragment
 * would (exit 1, worth retrying later), where an unreadable local file or invalid JSON is EMANIFEST (2).
 */
function networkError(shown: string, error: unknown, timeoutMs: number): FragfetchError {
  return new FragfetchError(
    networkCode(error),
    `cannot fetch manifest ${shown}: ${describeNetworkError(error, timeoutMs)}`,
    { url: shown, cause: error },
  );
}

function networkCode(error: unknown): 'ETIMEOUT' | 'EHTTP' | 'ENETWORK' {
  const code = errorCode(error);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'ETIMEOUT';
  // The server sends us round in circles: its answer is at fault, as with an error status.
  if (error instanceof Error && error.message.startsWith('Redirect loop detected')) return 'EHTTP';
  return 'ENETWORK';
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  const code = errorCode(error);
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return `no response within ${formatDuration(timeoutMs)}`;
  if (code === 'UND_ERR_BODY_TIMEOUT') return `no data for ${formatDuration(timeoutMs)}`;
  // undici's advice in this message is about Client/Pool, which are not used here.
  if (error instanceof Error && error.message.startsWith('Redirect loop detected')) return 'redirect loop';
  // Happy-eyeballs connection failures arrive as an AggregateError with an empty message.
  if (error instanceof AggregateError && error.message === '') {
    return describeNetworkError(error.errors[0], timeoutMs);
  }
  const message = error instanceof Error ? error.message : String(error);
  return (message || code || 'network error').split('\n')[0]!;
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
