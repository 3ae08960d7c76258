import { describe, expect, it } from 'vitest';
import { ByOrigin, endpointOf, isOriginOf } from '../../src/fetch/by-origin.js';

describe('ByOrigin', () => {
  it('gives one value per origin, whatever the path, query or fragment, in order of first use', () => {
    const created: string[] = [];
    const map = new ByOrigin((origin) => (created.push(origin), { origin }));
    const a = map.of('https://a.example/x/1.bin');
    expect(map.of('https://a.example/y/2.bin?sig=1')).toBe(a);
    expect(map.of('https://a.example#top')).toBe(a);
    const b = map.of('http://b.example:8080/1.bin');
    expect(b).not.toBe(a);
    expect(map.of('https://a.example/z')).toBe(a);
    expect(map.of('http://b.example:8080/2.bin')).toBe(b);
    expect(created).toEqual(['https://a.example', 'http://b.example:8080']);
    expect([...map.entries()].map(([origin]) => origin)).toEqual(created);
  });

  it('tells apart origins that one is the start of another', () => {
    const map = new ByOrigin((origin) => ({ origin }));
    expect(map.of('https://a.example/1').origin).toBe('https://a.example');
    expect(map.of('https://a.example.org/1').origin).toBe('https://a.example.org');
    expect(map.of('https://a.example:8443/1').origin).toBe('https://a.example:8443');
    expect(map.of('https://a.example@b.example/1').origin).toBe('https://b.example');
    expect(map.of('https://a.example/2').origin).toBe('https://a.example');
    expect([...map.values()]).toHaveLength(4);
  });

  it('parses a URL whose origin is not its start, and still finds that origin by prefix after', () => {
    const map = new ByOrigin((origin) => ({ origin }));
    const odd = map.of('HTTPS://A.example:443/1');
    expect(odd.origin).toBe('https://a.example');
    expect(map.of('https://a.example/2')).toBe(odd);
    expect(map.of('HTTPS://A.example:443/1')).toBe(odd);
    expect([...map.values()]).toEqual([odd]);
  });
});

describe('isOriginOf', () => {
  it('agrees with endpointOf on URLs that start with the origin, and those that do not', () => {
    const urls = [
      'https://a.example/x',
      'https://a.example?q',
      'https://a.example#f',
      'https://a.example',
      'https://a.example.org/x',
      'https://a.example:8443/x',
      'https://a.example@b.example/x',
    ];
    for (const url of urls)
      expect(isOriginOf('https://a.example', url)).toBe(endpointOf(url) === 'https://a.example');
  });
});

describe('endpointOf', () => {
  it('is the origin of a URL: scheme, host and port, without credentials, path or query', () => {
    expect(endpointOf('https://cdn.example.com/models/a.bin')).toBe('https://cdn.example.com');
    expect(endpointOf('http://127.0.0.1:8089/small/s0001.bin')).toBe('http://127.0.0.1:8089');
    expect(endpointOf('https://cdn.example.com?token=1')).toBe('https://cdn.example.com');
    expect(endpointOf('http://[::1]:8080/a')).toBe('http://[::1]:8080');
    expect(endpointOf('https://user:secret@cdn.example.com/a')).toBe('https://cdn.example.com');
    expect(endpointOf('not a url')).toBe('not a url');
  });
});
