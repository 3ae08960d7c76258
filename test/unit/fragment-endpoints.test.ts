import { describe, expect, it } from 'vitest';
import { FragfetchError } from '../../src/errors.js';
import { FragmentEndpoints, type PickEndpoint } from '../../src/fetch/fragment-endpoints.js';

const URLS = [
  'https://eu.example.com/m/a.bin',
  'https://us.example.com/m/a.bin',
  'https://ap.example.com/m/a.bin',
];

/** The first usable endpoint that is not `avoid`, as the pool would pick with equal scores. */
const firstUsable: PickEndpoint = (urls, usable, avoid) => {
  const other = urls.findIndex((_, index) => index !== avoid && usable(index));
  return other >= 0
    ? other
    : Math.max(
        0,
        urls.findIndex((_, index) => usable(index)),
      );
};

const http = (status: number) => new FragfetchError('EHTTP', `GET: HTTP ${status}`, { status });

describe('FragmentEndpoints', () => {
  it('after a transient failure backs off and sends the next request to another mirror', () => {
    const endpoints = new FragmentEndpoints(URLS, firstUsable);
    expect(endpoints.choose()).toBe(0);
    expect(endpoints.failed(http(503), 0)).toBe('backoff');
    expect(endpoints.choose()).toBe(1);
    endpoints.succeeded();
    expect(endpoints.choose()).toBe(0);
  });

  it('drops a mirror that cannot serve the fragment and goes elsewhere at once; gives up when none is left', () => {
    const endpoints = new FragmentEndpoints(URLS.slice(0, 2), firstUsable);
    expect(endpoints.failed(http(404), 0)).toBe('elsewhere');
    endpoints.succeeded();
    expect(endpoints.choose()).toBe(1);
    expect(endpoints.failed(new FragfetchError('ESIZE', 'too long'), 1)).toBe('give-up');
  });

  it('retries one endpoint on a transient failure, and never gives up on it for that alone', () => {
    const endpoints = new FragmentEndpoints(URLS.slice(0, 1), firstUsable);
    expect(endpoints.failed(http(503), 0)).toBe('backoff');
    expect(endpoints.failed(new FragfetchError('ENETWORK', 'connection reset'), 0)).toBe('backoff');
    expect(endpoints.choose()).toBe(0);
    expect(endpoints.failed(http(403), 0)).toBe('give-up');
  });

  it('sets a differing mirror aside while another may agree, and takes it back on a restart', () => {
    const endpoints = new FragmentEndpoints(URLS, firstUsable);
    // The bytes came from eu: us sent another copy.
    expect(endpoints.setAside(1, URLS[0])).toBe(true);
    expect(endpoints.choose(0)).toBe(2);
    // The copy that differs is the one the bytes came from: start over.
    expect(endpoints.setAside(0, URLS[0])).toBe(false);
    // Nothing received yet: there is no copy to differ from.
    expect(endpoints.setAside(2, undefined)).toBe(false);
    endpoints.restart();
    expect(endpoints.choose(0)).toBe(1);
  });

  it('starts over rather than set aside the last mirror that might agree', () => {
    const endpoints = new FragmentEndpoints(URLS.slice(0, 2), firstUsable);
    expect(endpoints.failed(http(404), 0)).toBe('elsewhere');
    // eu is dropped: with us set aside, no mirror would be left.
    expect(endpoints.setAside(1, URLS[0])).toBe(false);
  });
});
