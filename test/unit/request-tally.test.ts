import { describe, expect, it } from 'vitest';
import { FragfetchError } from '../../src/errors.js';
import type { RequestRecord } from '../../src/fetch/context.js';
import { endpointFault, RequestTally, type TallyListeners } from '../../src/fetch/request-tally.js';
import type { Fragment } from '../../src/manifest/fragment.js';

const URL_A = 'https://a.example/m/x.bin';
const fragment = { id: 'x', path: 'x.bin' } as Fragment;

function listeners() {
  const pool: string[] = [];
  const records: RequestRecord[] = [];
  const to: TallyListeners = {
    endpoints: {
      sent: (url) => pool.push(`sent ${url}`),
      answered: (url, ms) => pool.push(`answered ${url} ${ms >= 0}`),
      ended: (url, { bytes, failed }) => pool.push(`ended ${url} ${bytes} ${failed}`),
    },
    events: { request: (record) => records.push(record) },
  };
  return { to, pool, records };
}

describe('RequestTally', () => {
  it('is in flight at the pool from its making, and tells one end to the pool and to the statistics', () => {
    const { to, pool, records } = listeners();
    const tally = new RequestTally(to, fragment, URL_A);
    expect(pool).toEqual([`sent ${URL_A}`]);
    tally.answered();
    tally.ended({ status: 206, range: 'bytes 0-9/10', bytes: 10, failed: false });
    expect(pool).toEqual([`sent ${URL_A}`, `answered ${URL_A} true`, `ended ${URL_A} 10 false`]);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ fragment, url: URL_A, status: 206, range: 'bytes 0-9/10', bytes: 10 });
    expect(records[0]).not.toHaveProperty('error');
  });

  it('records a failure with its error, and whether it counts against the endpoint', () => {
    const { to, pool, records } = listeners();
    const error = new FragfetchError('EHTTP', 'GET x: HTTP 503', { status: 503 });
    new RequestTally(to, fragment, URL_A).ended({
      status: 503,
      range: undefined,
      bytes: 0,
      error,
      failed: true,
    });
    expect(pool.at(-1)).toBe(`ended ${URL_A} 0 true`);
    expect(records[0]?.error).toBe(error);
  });

  it('a request stopped with its round ends at the pool as no one’s failure, and is not a request counted', () => {
    const { to, pool, records } = listeners();
    new RequestTally(to, fragment, URL_A).stopped(4096);
    expect(pool).toEqual([`sent ${URL_A}`, `ended ${URL_A} 4096 false`]);
    expect(records).toEqual([]);
  });

  it('a request the run was told of already (the short path’s) is told to the pool only, from when it was made', () => {
    const { to, pool, records } = listeners();
    const began = performance.now() - 50;
    const tally = new RequestTally(to, fragment, URL_A, { began, told: true });
    expect(tally.began).toBe(began);
    tally.ended({ status: 200, range: undefined, bytes: 65536, failed: false });
    expect(pool.at(-1)).toBe(`ended ${URL_A} 65536 false`);
    expect(records).toEqual([]);
  });
});

describe('endpointFault', () => {
  it('blames the endpoint for a cut or stalled body and a 5xx, not for a lost hedge or a 404', () => {
    expect(endpointFault(new FragfetchError('ESTALL', 'stalled'))).toBe(true);
    expect(endpointFault(new FragfetchError('ENETWORK', 'reset'))).toBe(true);
    expect(endpointFault(new FragfetchError('EHTTP', 'HTTP 503', { status: 503 }))).toBe(true);
    expect(endpointFault(new FragfetchError('ETIMEOUT', 'another mirror answered first'))).toBe(false);
    expect(endpointFault(new FragfetchError('EHTTP', 'HTTP 404', { status: 404 }))).toBe(false);
  });
});
