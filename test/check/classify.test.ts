import { describe, expect, it } from 'vitest';
import {
  classify,
  describeError,
  isDefinitive,
  mirrorFindings,
  sizeProblem,
} from '../../src/check/classify.js';
import { endpointOf } from '../../src/check/endpoint.js';
import { readHeaders } from '../../src/check/probe.js';
import type { Observation } from '../../src/check/types.js';
import { FragfetchError } from '../../src/errors.js';
import type { Fragment } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';

function fragment(input: Record<string, unknown>): Fragment {
  return parseManifest({ version: 1, baseUrls: ['http://cdn/m/'], fragments: [input] }, 'test.json')
    .fragments[0]!;
}

function seen(extra: Partial<Observation>): Observation {
  return { method: 'GET', range: 'bytes=0-0', durationMs: 1, attempts: 1, bytesRead: 1, ...extra };
}

const codes = (findings: { code: string; severity: string }[]) =>
  findings.map((f) => `${f.severity}:${f.code}`);

describe('classify', () => {
  const whole = fragment({ path: 'a.bin', size: 100 });
  const ranged = fragment({ path: 'model.bin', offset: 40, size: 10 });

  it('passes a 206 at the right offset with the declared length', () => {
    expect(
      classify(whole, seen({ status: 206, rangeStart: 0, objectLength: 100, rangeSupported: true })),
    ).toEqual([]);
    expect(
      classify(ranged, seen({ status: 206, rangeStart: 40, objectLength: 50, rangeSupported: true })),
    ).toEqual([]);
  });

  it('reports a network error as the failure it is', () => {
    const error = { code: 'ENETWORK' as const, message: 'unreachable: connection refused' };
    expect(classify(whole, seen({ error }))).toEqual([{ severity: 'failure', ...error }]);
  });

  it('reports an error status with its reason phrase', () => {
    expect(classify(whole, seen({ status: 404 }))).toEqual([
      { severity: 'failure', code: 'EHTTP', message: 'HTTP 404 Not Found', status: 404 },
    ]);
    expect(codes(classify(whole, seen({ status: 416 })))).toEqual(['failure:EHTTP']);
  });

  it('reports a length that contradicts the manifest', () => {
    expect(codes(classify(whole, seen({ status: 206, rangeStart: 0, objectLength: 99 })))).toEqual([
      'failure:ESIZE',
    ]);
    // The object must hold the whole window [40, 50).
    expect(codes(classify(ranged, seen({ status: 206, rangeStart: 40, objectLength: 49 })))).toEqual([
      'failure:ESIZE',
    ]);
    // A 416 to bytes=40-40 says the object ends before the fragment.
    expect(codes(classify(ranged, seen({ status: 416, objectLength: 30 })))).toEqual(['failure:ESIZE']);
  });

  it('accepts a 416 for an empty object at offset 0 (nothing to range over)', () => {
    expect(classify(fragment({ path: 'e', size: 0 }), seen({ status: 416, objectLength: 0 }))).toEqual([]);
  });

  it('fails a 206 of another range', () => {
    expect(codes(classify(ranged, seen({ status: 206, rangeStart: 0, objectLength: 50 })))).toEqual([
      'failure:ERANGE',
    ]);
  });

  it('warns when the range was ignored, and still checks the length', () => {
    expect(codes(classify(whole, seen({ status: 200, objectLength: 100, rangeSupported: false })))).toEqual([
      'warning:WRANGE',
    ]);
    expect(codes(classify(whole, seen({ status: 200, objectLength: 7, rangeSupported: false })))).toEqual([
      'failure:ESIZE',
      'warning:WRANGE',
    ]);
  });

  it('passes an unknown length, and a whole object without declared size', () => {
    expect(classify(whole, seen({ status: 206, rangeStart: 0 }))).toEqual([]);
    expect(classify(fragment({ path: 'x' }), seen({ status: 206, rangeStart: 0, objectLength: 5 }))).toEqual(
      [],
    );
  });

  it('judges --deep bytes: count, then integrity', () => {
    const sri = `sha256-${Buffer.alloc(32, 1).toString('base64')}`;
    const other = `sha256-${Buffer.alloc(32, 2).toString('base64')}`;
    const checked = fragment({ path: 'a.bin', size: 100, integrity: sri });
    const ok = seen({ status: 206, rangeStart: 0, objectLength: 100, deep: { bytes: 100, sri } });
    expect(classify(checked, ok)).toEqual([]);
    expect(codes(classify(checked, { ...ok, deep: { bytes: 100, sri: other } }))).toEqual([
      'failure:EINTEGRITY',
    ]);
    expect(codes(classify(checked, { ...ok, deep: { bytes: 60, sri } }))).toEqual(['failure:ESIZE']);
  });
});

describe('sizeProblem', () => {
  it('is silent when the manifest declares no size or the length is unknown', () => {
    expect(sizeProblem(fragment({ path: 'a' }), 10)).toBeUndefined();
    expect(sizeProblem(fragment({ path: 'a', size: 3 }), undefined)).toBeUndefined();
  });
  it('names both lengths', () => {
    expect(sizeProblem(fragment({ path: 'a', size: 3 }), 4)).toBe(
      'the object has 4 bytes, the manifest says 3',
    );
  });
});

describe('mirrorFindings', () => {
  const probe = (endpoint: string, o: Partial<Observation>, failed = false) => ({
    endpoint,
    observation: seen({ status: 206, rangeStart: 0, ...o }),
    findings: failed ? [{ severity: 'failure' as const, code: 'EHTTP' as const, message: 'x' }] : [],
  });

  it('is silent when mirrors agree (a weak and a strong form of one ETag agree)', () => {
    const found = mirrorFindings([
      probe('a', { etag: '"1"', objectLength: 5 }),
      probe('b', { etag: 'W/"1"', objectLength: 5 }),
    ]);
    expect(found).toEqual([undefined, undefined]);
  });

  it('warns on the mirror whose ETag differs from the first healthy endpoint', () => {
    const found = mirrorFindings([
      probe('a', {}, true),
      probe('b', { etag: '"1"' }),
      probe('c', { etag: '"2"' }),
    ]);
    expect(found[0]).toBeUndefined();
    expect(found[1]).toBeUndefined();
    expect(found[2]).toMatchObject({ severity: 'warning', code: 'WVALIDATORS' });
    expect(found[2]!.message).toContain('ETag "2" here, "1" on b');
  });

  it('compares Last-Modified as dates when there is no ETag, and lengths first', () => {
    const a = 'Sun, 01 Nov 2026 10:00:00 GMT';
    expect(mirrorFindings([probe('a', { lastModified: a }), probe('b', { lastModified: a })])).toEqual([
      undefined,
      undefined,
    ]);
    const later = mirrorFindings([
      probe('a', { lastModified: a }),
      probe('b', { lastModified: 'Mon, 02 Nov 2026 10:00:00 GMT' }),
    ]);
    expect(later[1]?.message).toMatch(/Last-Modified/);
    const sizes = mirrorFindings([
      probe('a', { objectLength: 1, etag: '"x"' }),
      probe('b', { objectLength: 2, etag: '"x"' }),
    ]);
    expect(sizes[1]?.message).toMatch(/2 bytes here, 1 on a/);
  });
});

describe('describeError', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
  it('names the reason a connection failed', () => {
    const error = new FragfetchError('ENETWORK', 'GET x failed', { cause: refused });
    expect(describeError(error, 10_000)).toEqual({
      code: 'ENETWORK',
      message: 'unreachable: connection refused',
    });
    const dns = new FragfetchError('ENETWORK', 'x', {
      cause: Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }),
    });
    expect(describeError(dns, 1).message).toMatch(/DNS/);
    const tls = new FragfetchError('ENETWORK', 'x', {
      cause: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    });
    expect(describeError(tls, 1).message).toBe('unreachable: TLS error: self-signed certificate');
    const eyeballs = new FragfetchError('ENETWORK', 'x', { cause: new AggregateError([refused], '') });
    expect(describeError(eyeballs, 1).message).toBe('unreachable: connection refused');
  });
  it('takes DNS and certificate failures as definitive, a refusal as worth another try', () => {
    const wrap = (code: string) =>
      new FragfetchError('ENETWORK', 'x', { cause: Object.assign(new Error(code), { code }) });
    expect(isDefinitive(wrap('ENOTFOUND'))).toBe(true);
    expect(isDefinitive(wrap('CERT_HAS_EXPIRED'))).toBe(true);
    expect(isDefinitive(wrap('ERR_SSL_WRONG_VERSION_NUMBER'))).toBe(true);
    expect(isDefinitive(wrap('ECONNREFUSED'))).toBe(false);
    expect(isDefinitive(new FragfetchError('ETIMEOUT', 'x'))).toBe(false);
  });
  it('says how long a timeout waited', () => {
    const connect = new FragfetchError('ETIMEOUT', 'x', { cause: { code: 'UND_ERR_CONNECT_TIMEOUT' } });
    expect(describeError(connect, 2000)).toMatchObject({ code: 'ETIMEOUT' });
    expect(describeError(connect, 2000).message).toMatch(
      /^unreachable: could not connect within 2(\.0)? ?s$/,
    );
    expect(describeError(new FragfetchError('ETIMEOUT', 'x'), 500).message).toMatch(
      /^unreachable: no response within 500 ?ms$/,
    );
  });
});

describe('readHeaders', () => {
  it('reads the total from Content-Range, and a 200 to a range as ranges ignored', () => {
    expect(
      readHeaders({ status: 206, headers: { 'content-range': 'bytes 5-5/100', etag: '"e"' } }, true),
    ).toEqual({
      status: 206,
      rangeSupported: true,
      rangeStart: 5,
      objectLength: 100,
      etag: '"e"',
    });
    expect(readHeaders({ status: 200, headers: { 'content-length': '100' } }, true)).toMatchObject({
      objectLength: 100,
      rangeSupported: false,
    });
  });
  it('takes Accept-Ranges on HEAD, and the length of a 416', () => {
    expect(readHeaders({ status: 200, headers: { 'accept-ranges': 'bytes' } }, false).rangeSupported).toBe(
      true,
    );
    expect(readHeaders({ status: 200, headers: { 'accept-ranges': 'none' } }, false).rangeSupported).toBe(
      false,
    );
    expect(readHeaders({ status: 200, headers: {} }, false).rangeSupported).toBeUndefined();
    expect(readHeaders({ status: 416, headers: { 'content-range': 'bytes */7' } }, true).objectLength).toBe(
      7,
    );
  });
});

describe('endpointOf', () => {
  it('recovers the base URL under which a fragment path was resolved', () => {
    expect(endpointOf('https://cdn.example.com/models/tiny/a%20b/c.bin?t=1', 'a b/c.bin')).toBe(
      'https://cdn.example.com/models/tiny/',
    );
  });
  it('groups a fragment own URL by origin, without credentials', () => {
    expect(endpointOf('https://user:secret@other.example.com/tok.json', 'tokenizer.json')).toBe(
      'https://other.example.com/',
    );
  });
});
