/** What both direct transports (http1.ts for http:, direct.ts for https:) are given. */
export interface TransportOptions {
  /** Until the response head has arrived, connection included, ms. */
  timeoutMs: number;
  /** Longest silence within a body, ms. */
  stallTimeoutMs: number;
}

/** Idle keep-alive connections are closed after this long, below common servers' limits (nginx 75 s). */
export const IDLE_SOCKET_MS = 30_000;

/** Failures below HTTP that the transports raise themselves, told apart by code (see http.ts). */
export const TRANSPORT_CODES = {
  connectTimeout: 'FF_CONNECT_TIMEOUT',
  headersTimeout: 'FF_HEADERS_TIMEOUT',
  bodyTimeout: 'FF_BODY_TIMEOUT',
  redirects: 'FF_TOO_MANY_REDIRECTS',
  /** The server closed the connection before the response was complete. */
  closed: 'ECONNRESET',
} as const;

export function transportFailure(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The connect+headers deadline passed: which of the two it was decides the code. */
export function deadlineFailure(connecting: boolean, timeoutMs: number): Error {
  return connecting
    ? transportFailure(TRANSPORT_CODES.connectTimeout, `could not connect within ${timeoutMs} ms`)
    : transportFailure(TRANSPORT_CODES.headersTimeout, `no response headers within ${timeoutMs} ms`);
}

export function stallFailure(stallTimeoutMs: number): Error {
  return transportFailure(TRANSPORT_CODES.bodyTimeout, `no data for ${stallTimeoutMs} ms within the body`);
}
