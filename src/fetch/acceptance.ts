import { displayUrl, type ErrorCode, type ErrorDetails, FragfetchError } from '../errors.js';
import { codingProblem } from '../net/codings.js';
import { parseContentRange, parseUnsatisfiedRange } from '../net/content-range.js';
import type { Headers } from '../net/response-body.js';
import { parseRetryAfter } from '../net/retry.js';

/** What the responses have told us about the remote object; every later response must agree. */
export interface ObjectFacts {
  /** Set by the first response accepted: from then on, its validators (perhaps none) are the object's. */
  url?: string;
  /** The ETag as sent, weak or strong: any change is a change; only a strong one goes in If-Range. */
  etag?: string;
  lastModified?: string;
  objectSize?: number;
  /** False once a server answered a Range request with the whole body. */
  ranges?: boolean;
}

/** What one request asked for, as the rules need it. */
export interface Asked {
  url: string;
  /** First byte wanted, relative to the fragment's window. */
  start: number;
  /** End of the window span wanted (exclusive); undefined when the object's size is not known yet. */
  end: number | undefined;
  /** Where the fragment's window starts in the remote object. */
  objectOffset: number;
  /** True for a byte-range fragment: the object is larger than the window. */
  isRange: boolean;
  /** Declared size of the window, if any. */
  declaredSize: number | undefined;
  /** The Range header sent, if one was. */
  range: string | undefined;
}

export interface ResponseHead {
  status: number;
  headers: Headers;
}

/**
 * What to do with an answer, decided before a byte of its body is written:
 * - `whole`: a 200 for the object from byte 0; `skip` leading bytes precede the window;
 * - `range`: a 206 for exactly the range asked, whose bytes end at `answeredEnd` of the window
 *   (exclusive): no byte past it is the object's;
 * - `restart`: the object changed (ECHANGED), or its server ignores Range (ERANGE with status 200):
 *   the bytes received so far are of another version or must come whole, never spliced;
 * - `refuse`: this answer is of no use (a status, a coding, a range or a size that is wrong).
 * An accepted verdict carries the object's facts as they stand after this answer (a new object).
 */
export type Verdict =
  | { kind: 'whole'; skip: number; facts: ObjectFacts }
  | { kind: 'range'; answeredEnd: number; facts: ObjectFacts }
  | { kind: 'restart'; error: FragfetchError }
  | { kind: 'refuse'; error: FragfetchError };

/**
 * The one set of rules every answer to a GET of a fragment is judged by (segments and the short path
 * of small objects alike): `facts` are what earlier answers established, and are not changed.
 */
export function judgeResponse(asked: Asked, facts: ObjectFacts, head: ResponseHead): Verdict {
  const { url, range, start, objectOffset } = asked;
  const { status, headers } = head;
  if (status === 416) {
    const total = parseUnsatisfiedRange(headers['content-range']);
    return refuse(
      'ESIZE',
      `${where(url, range)}: range not satisfiable, the object has ${total ?? '?'} bytes`,
      {
        url,
        status,
        found: total,
      },
    );
  }
  if (status !== 200 && status !== 206) {
    return refuse('EHTTP', `${where(url, range)}: HTTP ${status}`, {
      url,
      status,
      retryAfterMs: parseRetryAfter(headers['retry-after']),
    });
  }

  const coded = codingProblem(headers);
  if (coded) return refuse('EENCODING', `${where(url, range)}: ${coded}`, { url, status });

  const etag = headers.etag;
  const lastModified = headers['last-modified'];
  const length = headers['content-length'];
  let objectSize: number | undefined;
  let answeredEnd: number | undefined;
  if (status === 206) {
    if (!range)
      return refuse('ERANGE', `${where(url, range)}: 206 to a request without Range`, { url, status });
    const got = parseContentRange(headers['content-range']);
    const wantEnd = asked.end === undefined ? undefined : objectOffset + asked.end - 1;
    if (!got || got.start !== objectOffset + start || (wantEnd !== undefined && got.end > wantEnd)) {
      return refuse(
        'ERANGE',
        `${where(url, range)}: answered Content-Range ${headers['content-range'] ?? '(none)'}, not the range asked for`,
        { url, status, expected: range, found: headers['content-range'] },
      );
    }
    if (length !== undefined && Number(length) !== got.end - got.start + 1) {
      return refuse(
        'ERANGE',
        `${where(url, range)}: Content-Length ${length} for Content-Range ${headers['content-range']}`,
        { url, status, expected: got.end - got.start + 1, found: length },
      );
    }
    objectSize = got.total;
    answeredEnd = got.end + 1 - objectOffset;
  } else {
    if (range) {
      // A 200 to a range request: the whole object, of this version or a new one.
      return validatorsDiffer(facts, etag, lastModified)
        ? restart('ECHANGED', `${where(url, range)}: the object changed (new validator), restarting it`, {
            url,
            status,
          })
        : restart('ERANGE', `${where(url, range)}: the server ignored Range and sent the whole object`, {
            url,
            status,
          });
    }
    objectSize = length === undefined ? undefined : Number(length);
  }

  if (validatorsDiffer(facts, etag, lastModified)) {
    return restart(
      'ECHANGED',
      `${where(url, range)}: the object changed (validator differs), restarting it`,
      {
        url,
        status,
        expected: facts.etag ?? facts.lastModified,
        found: etag ?? lastModified,
      },
    );
  }
  if (objectSize !== undefined) {
    if (facts.objectSize !== undefined && facts.objectSize !== objectSize) {
      return restart(
        'ECHANGED',
        `${where(url, range)}: the object's length changed to ${objectSize}, restarting it`,
        {
          url,
          expected: facts.objectSize,
          found: objectSize,
        },
      );
    }
    const declared = asked.declaredSize;
    if (declared !== undefined) {
      const needed = asked.isRange ? objectOffset + declared : declared;
      const wrong = asked.isRange ? objectSize < needed : objectSize !== declared;
      if (wrong) {
        return refuse(
          'ESIZE',
          `${where(url, range)}: the object has ${objectSize} bytes, the manifest says ${asked.isRange ? `at least ${needed}` : declared}`,
          { url, expected: needed, found: objectSize },
        );
      }
    }
  }

  const learned = learn(facts, url, etag, lastModified, objectSize, status === 206);
  return answeredEnd === undefined
    ? { kind: 'whole', skip: objectOffset + start, facts: learned }
    : { kind: 'range', answeredEnd, facts: learned };
}

/** Weak ETags may not be used for range requests (RFC 9110 §13.1.5). */
export function strongEtag(value: string | undefined): string | undefined {
  return value && !value.startsWith('W/') ? value : undefined;
}

/** How a request is named in a message; built only for a failure (2000 small objects). */
export function where(url: string, range: string | undefined): string {
  return `GET ${displayUrl(url)}${range ? ` (${range})` : ''}`;
}

/**
 * Whether a response's validators are not those seen first. "None" is a validator too: one that
 * appears, or goes, is a change. ETags decide when either side has one; else Last-Modified.
 */
function validatorsDiffer(
  facts: ObjectFacts,
  etag: string | undefined,
  lastModified: string | undefined,
): boolean {
  if (facts.url === undefined) return false;
  if (facts.etag !== undefined || etag !== undefined) return etag !== facts.etag;
  return lastModified !== facts.lastModified;
}

/** The facts after an accepted answer: what the first answers said stands; what was missing is added. */
function learn(
  facts: ObjectFacts,
  url: string,
  etag: string | undefined,
  lastModified: string | undefined,
  objectSize: number | undefined,
  ranged: boolean,
): ObjectFacts {
  const learned: ObjectFacts = { ...facts };
  learned.url ??= url;
  if (etag !== undefined) learned.etag ??= etag;
  if (lastModified !== undefined) learned.lastModified ??= lastModified;
  if (objectSize !== undefined) learned.objectSize ??= objectSize;
  if (ranged) learned.ranges = true;
  return learned;
}

function refuse(code: ErrorCode, message: string, details: ErrorDetails): Verdict {
  return { kind: 'refuse', error: new FragfetchError(code, message, details) };
}

function restart(code: 'ECHANGED' | 'ERANGE', message: string, details: ErrorDetails): Verdict {
  return { kind: 'restart', error: new FragfetchError(code, message, details) };
}
