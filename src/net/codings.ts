import type { Headers } from './response-body.js';

/**
 * Why a response's bytes are not the object's bytes as stored, or undefined when they are. We ask
 * for `accept-encoding: identity`, so that byte offsets are offsets of the object; a server that
 * codes the body anyway (gzip on a range, a coded 200) would have us store or splice coded bytes.
 * undici decodes only `chunked` framing: any other transfer coding would reach us still coded, and
 * `identity` among them (obsolete, RFC 9112 §6.1) leaves the framing itself in the body.
 */
export function codingProblem(headers: Headers): string | undefined {
  const content = headers['content-encoding']?.trim().toLowerCase();
  if (content !== undefined && content !== '' && content !== 'identity')
    return `Content-Encoding ${headers['content-encoding']}, though we asked for identity`;
  const transfer = headers['transfer-encoding']?.trim().toLowerCase();
  if (transfer !== undefined && transfer !== 'chunked')
    return `Transfer-Encoding ${headers['transfer-encoding']}, of which only chunked is read`;
  return undefined;
}
