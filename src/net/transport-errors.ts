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
