import { describe, expect, it } from 'vitest';
import { type Asked, judgeResponse, type ObjectFacts, type Verdict } from '../../src/fetch/acceptance.js';

const url = 'http://cdn.test/a.bin';
/** The whole of a 1000-byte object, from byte 0, no Range. */
const whole: Asked = {
  url,
  start: 0,
  end: 1000,
  objectOffset: 0,
  isRange: false,
  declaredSize: 1000,
  range: undefined,
};
/** Bytes [100, 200) of the same object, by Range. */
const ranged: Asked = { ...whole, start: 100, end: 200, range: 'bytes=100-199' };
const seen: ObjectFacts = { url, etag: '"v1"', objectSize: 1000 };

const judge = (asked: Asked, facts: ObjectFacts, status: number, headers: Record<string, string>) =>
  judgeResponse(asked, facts, { status, headers });
const part = (headers: Record<string, string> = {}) => ({
  'content-range': 'bytes 100-199/1000',
  'content-length': '100',
  etag: '"v1"',
  ...headers,
});
const code = (verdict: Verdict) => ('error' in verdict ? [verdict.kind, verdict.error.code] : [verdict.kind]);

describe('judgeResponse: a whole object', () => {
  it('accepts a 200 of the declared length and learns its facts', () => {
    const verdict = judge(whole, {}, 200, { 'content-length': '1000', etag: '"v1"', 'last-modified': 'Mon' });
    expect(verdict).toEqual({
      kind: 'whole',
      skip: 0,
      facts: { url, etag: '"v1"', lastModified: 'Mon', objectSize: 1000 },
    });
  });

  it('does not change the facts it is given', () => {
    const facts: ObjectFacts = {};
    judge(whole, facts, 200, { 'content-length': '1000', etag: '"v1"' });
    expect(facts).toEqual({});
  });

  it('refuses a Content-Length other than the declared size (ESIZE)', () => {
    expect(code(judge(whole, {}, 200, { 'content-length': '999' }))).toEqual(['refuse', 'ESIZE']);
    expect(code(judge(whole, {}, 200, { 'content-length': '1001' }))).toEqual(['refuse', 'ESIZE']);
  });

  it('takes a byte-range fragment from a whole 200, skipping to its window', () => {
    const window: Asked = { ...whole, objectOffset: 300, isRange: true, declaredSize: 100, end: 100 };
    const verdict = judge(window, {}, 200, { 'content-length': '1000' });
    expect(verdict).toMatchObject({ kind: 'whole', skip: 300 });
    // An object shorter than the window's end cannot hold it.
    expect(code(judge({ ...window, objectOffset: 950 }, {}, 200, { 'content-length': '1000' }))).toEqual([
      'refuse',
      'ESIZE',
    ]);
  });

  it('accepts an unknown length when no size was declared', () => {
    const verdict = judge({ ...whole, end: undefined, declaredSize: undefined }, {}, 200, {});
    expect(verdict).toEqual({ kind: 'whole', skip: 0, facts: { url } });
  });

  it.each([
    ['content-encoding', 'gzip'],
    ['transfer-encoding', 'gzip, chunked'],
    ['transfer-encoding', 'identity'],
  ])('refuses %s: %s (EENCODING)', (name, value) => {
    expect(code(judge(whole, {}, 200, { 'content-length': '1000', [name]: value }))).toEqual([
      'refuse',
      'EENCODING',
    ]);
  });

  it('accepts Content-Encoding: identity and chunked framing', () => {
    const headers = { 'content-encoding': 'identity', 'transfer-encoding': 'chunked' };
    expect(judge({ ...whole, declaredSize: undefined }, {}, 200, headers).kind).toBe('whole');
  });

  it('refuses other statuses with their Retry-After, and a 416 with the size it names', () => {
    const busy = judge(whole, {}, 503, { 'retry-after': '2' });
    expect(code(busy)).toEqual(['refuse', 'EHTTP']);
    expect(busy.kind === 'refuse' && busy.error.retryAfterMs).toBe(2000);
    const unsatisfiable = judge(ranged, seen, 416, { 'content-range': 'bytes */50' });
    expect(code(unsatisfiable)).toEqual(['refuse', 'ESIZE']);
    expect(unsatisfiable.kind === 'refuse' && unsatisfiable.error.found).toBe(50);
  });

  it('refuses a 206 to a request without Range', () => {
    expect(code(judge(whole, {}, 206, part()))).toEqual(['refuse', 'ERANGE']);
  });
});

describe('judgeResponse: a range', () => {
  it('accepts exactly the range asked for, and where it ends', () => {
    const verdict = judge(ranged, seen, 206, part());
    expect(verdict).toEqual({ kind: 'range', answeredEnd: 200, facts: { ...seen, ranges: true } });
  });

  it('accepts a shorter range, ending where it says', () => {
    const verdict = judge(
      ranged,
      seen,
      206,
      part({ 'content-range': 'bytes 100-149/1000', 'content-length': '50' }),
    );
    expect(verdict).toMatchObject({ kind: 'range', answeredEnd: 150 });
  });

  it.each([
    ['another start', 'bytes 101-199/1000'],
    ['past the end asked', 'bytes 100-200/1000'],
    ['none', ''],
    ['unparseable', 'bytes 100-199'],
  ])('refuses a Content-Range with %s (ERANGE)', (_, contentRange) => {
    const headers = part({ 'content-range': contentRange });
    delete (headers as Record<string, string>)['content-length'];
    expect(code(judge(ranged, seen, 206, headers))).toEqual(['refuse', 'ERANGE']);
  });

  it('refuses a Content-Length that is not its Content-Range (ERANGE)', () => {
    expect(code(judge(ranged, seen, 206, part({ 'content-length': '101' })))).toEqual(['refuse', 'ERANGE']);
  });

  it('refuses Content-Encoding on a 206', () => {
    expect(code(judge(ranged, seen, 206, part({ 'content-encoding': 'gzip' })))).toEqual([
      'refuse',
      'EENCODING',
    ]);
  });

  it('restarts on a 200 to a range: ignored Range (ERANGE 200), or a new version (ECHANGED)', () => {
    const ignored = judge(ranged, seen, 200, { 'content-length': '1000', etag: '"v1"' });
    expect(code(ignored)).toEqual(['restart', 'ERANGE']);
    expect(ignored.kind === 'restart' && ignored.error.status).toBe(200);
    expect(code(judge(ranged, seen, 200, { 'content-length': '1000', etag: '"v2"' }))).toEqual([
      'restart',
      'ECHANGED',
    ]);
  });

  it("restarts when the object's length changes", () => {
    expect(code(judge(ranged, seen, 206, part({ 'content-range': 'bytes 100-199/2000' })))).toEqual([
      'restart',
      'ECHANGED',
    ]);
  });
});

describe('judgeResponse: validators', () => {
  it('restarts when the ETag changes, strong or weak', () => {
    expect(code(judge(ranged, seen, 206, part({ etag: '"v2"' })))).toEqual(['restart', 'ECHANGED']);
    const weak = { ...seen, etag: 'W/"v1"' };
    expect(code(judge(ranged, weak, 206, part({ etag: 'W/"v2"' })))).toEqual(['restart', 'ECHANGED']);
  });

  it('keeps an unchanged weak ETag', () => {
    const weak = { ...seen, etag: 'W/"v1"' };
    expect(judge(ranged, weak, 206, part({ etag: 'W/"v1"' })).kind).toBe('range');
  });

  it('restarts when a validator appears later and the first answer had none', () => {
    const bare: ObjectFacts = { url, objectSize: 1000 };
    expect(code(judge(ranged, bare, 206, part()))).toEqual(['restart', 'ECHANGED']);
    const noEtag = part();
    delete (noEtag as Record<string, string>).etag;
    expect(code(judge(ranged, bare, 206, { ...noEtag, 'last-modified': 'Mon' }))).toEqual([
      'restart',
      'ECHANGED',
    ]);
  });

  it('restarts when a validator disappears', () => {
    const headers = part();
    delete (headers as Record<string, string>).etag;
    expect(code(judge(ranged, seen, 206, headers))).toEqual(['restart', 'ECHANGED']);
  });

  it('compares Last-Modified when neither side has an ETag', () => {
    const dated: ObjectFacts = { url, lastModified: 'Mon', objectSize: 1000 };
    const headers = part({ 'last-modified': 'Tue' });
    delete (headers as Record<string, string>).etag;
    expect(code(judge(ranged, dated, 206, headers))).toEqual(['restart', 'ECHANGED']);
    expect(judge(ranged, dated, 206, { ...headers, 'last-modified': 'Mon' }).kind).toBe('range');
  });

  it('takes any validators from the first answer: no facts yet, nothing to differ from', () => {
    const verdict = judge(ranged, {}, 206, part({ etag: 'W/"x"' }));
    expect(verdict).toMatchObject({
      kind: 'range',
      facts: { url, etag: 'W/"x"', objectSize: 1000, ranges: true },
    });
  });
});
