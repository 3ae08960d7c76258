import { displayUrl, FragfetchError } from '../errors.js';
import { describeTlsFailure } from './tls.js';

/** undici's error codes, mapped to ours: which is a stall, a timeout, or a lost connection. */
const ERROR_CODES: Record<string, 'ESTALL' | 'ESLOW' | 'ETIMEOUT' | 'ENETWORK'> = {
  UND_ERR_BODY_TIMEOUT: 'ESTALL',
  FRAGFETCH_SLOW: 'ESLOW',
  UND_ERR_HEADERS_TIMEOUT: 'ETIMEOUT',
  UND_ERR_CONNECT_TIMEOUT: 'ETIMEOUT',
};

/** A connect timeout (for messages that say which stage timed out). */
export function isConnectTimeout(code: string | undefined): boolean {
  return code === 'UND_ERR_CONNECT_TIMEOUT';
}

/** What a failure's message may say of the request: the proxy it went through, its time limits. */
export interface FailureContext {
  proxy?: string | undefined;
  timeoutMs?: number;
  stallTimeoutMs?: number;
}

/**
 * Any failure below HTTP becomes a FragfetchError that says what happened and where; an abort by the
 * user is passed through untouched so that it is never retried. Through a proxy, a connection
 * failure is the proxy's (the only connection made is to it), and named so.
 */
export function toNetworkError(
  error: unknown,
  url: string,
  signal?: AbortSignal,
  context: FailureContext = {},
): unknown {
  if (signal?.aborted) return signal.reason;
  if (error instanceof FragfetchError) return error;
  const shown = displayUrl(url);
  const { proxy } = context;
  const tls = describeTlsFailure(error);
  if (tls) return new FragfetchError('ETLS', `GET ${shown}: ${tls}`, { cause: error, url });
  const refused = /^Proxy response \((\d+)\)/.exec((error as Error).message ?? '');
  if (proxy !== undefined && refused) {
    const status = Number(refused[1]);
    return new FragfetchError('EPROXY', `GET ${shown}: proxy ${displayUrl(proxy)} refused: HTTP ${status}`, {
      cause: error,
      url,
      status,
    });
  }
  const code = (error as { code?: string }).code ?? '';
  const mapped = ERROR_CODES[code] ?? 'ENETWORK';
  const what = { ESTALL: 'stalled', ESLOW: 'too slow', ETIMEOUT: 'timed out', ENETWORK: 'failed' }[mapped];
  const via = proxy === undefined ? '' : ` via proxy ${displayUrl(proxy)}`;
  return new FragfetchError(mapped, `GET ${shown}${via} ${what}: ${describe(error, context)}`, {
    cause: error,
    url,
  });
}

/** undici's failures, in the words our users read. */
function describe(error: unknown, { timeoutMs, stallTimeoutMs }: FailureContext): string {
  const err = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  switch (err.code) {
    case 'UND_ERR_SOCKET':
      return `the server closed the connection (${err.message ?? 'socket error'})`;
    case 'UND_ERR_HEADERS_TIMEOUT':
      return `no response headers within ${timeoutMs ?? '?'} ms`;
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `could not connect within ${timeoutMs ?? '?'} ms`;
    case 'UND_ERR_BODY_TIMEOUT':
      return `no data for ${stallTimeoutMs ?? '?'} ms within the body`;
    case 'UND_ERR_HEADERS_OVERFLOW':
      return 'the response head is longer than 16 KiB (undici maxHeaderSize)';
    case 'FRAGFETCH_SLOW':
      return err.message ?? 'under --min-speed';
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      // undici reports any parser error of a response with a Content-Length field so, an invalid
      // length among them (two values, a sign, a fraction): llhttp's own reason is not kept.
      return 'the body did not match its Content-Length, or the Content-Length was invalid';
  }
  const parts = [err.message ?? String(error)];
  if (err.cause?.code && !parts[0]?.includes(err.cause.code)) parts.push(`(${err.cause.code})`);
  else if (err.code && !parts[0]?.includes(err.code) && !err.code.startsWith('UND_ERR'))
    parts.push(`(${err.code})`);
  return parts.join(' ');
}
