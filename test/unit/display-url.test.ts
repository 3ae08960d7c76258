import { describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/cache/store.js';
import { displayUrl, FragfetchError, urlWithoutCredentials } from '../../src/errors.js';
import type { Fragment } from '../../src/manifest/fragment.js';

describe('displayUrl', () => {
  it('hides the values of credential-like query parameters, whatever their case, and the password', () => {
    expect(displayUrl('https://u:pw@cdn.example/a.bin?token=abc&v=2&SIG=x%2By#part')).toBe(
      'https://cdn.example/a.bin?token=***&v=2&SIG=***#part',
    );
    const s3 =
      'https://b.s3.amazonaws.com/m.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2026&X-Amz-Date=20261203T000000Z&X-Amz-Security-Token=FQo&X-Amz-Signature=deadbeef';
    expect(displayUrl(s3)).toBe(
      'https://b.s3.amazonaws.com/m.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Date=20261203T000000Z&X-Amz-Security-Token=***&X-Amz-Signature=***',
    );
    for (const name of ['key', 'auth', 'access_token', 'signature', 'Signature']) {
      expect(displayUrl(`http://h/x?${name}=secret`)).toBe(`http://h/x?${name}=***`);
    }
  });

  it('leaves a URL without secrets as it is', () => {
    expect(displayUrl('https://cdn.example/a.bin?v=2&keyframe=1')).toBe(
      'https://cdn.example/a.bin?v=2&keyframe=1',
    );
    expect(displayUrl('https://cdn.example/a.bin')).toBe('https://cdn.example/a.bin');
  });

  it('is what an error keeps of its URL', () => {
    const error = new FragfetchError('EHTTP', 'x', { url: 'https://h/a?sig=s3cr3t' });
    expect(error.url).toBe('https://h/a?sig=***');
  });
});

describe('urlWithoutCredentials', () => {
  it('drops credentials and signing parameters, so that a URL signed anew names the same object', () => {
    const signed = (sig: string, date: string) =>
      `https://b.s3.amazonaws.com/m.bin?versionId=7&X-Amz-Date=${date}&X-Amz-Expires=600&X-Amz-Signature=${sig}`;
    expect(urlWithoutCredentials(signed('aa', '20261203T000000Z'))).toBe(
      'https://b.s3.amazonaws.com/m.bin?versionId=7',
    );
    expect(urlWithoutCredentials(signed('bb', '20261204T000000Z'))).toBe(
      urlWithoutCredentials(signed('aa', '1')),
    );
    expect(urlWithoutCredentials('https://u:pw@h/a?token=t')).toBe('https://h/a');
    expect(urlWithoutCredentials('https://h/a?v=1&token=t#f')).toBe('https://h/a?v=1#f');
  });
});

describe('cacheKey', () => {
  const fragment = (url: string, offset?: number) =>
    ({
      id: 'a',
      path: 'a.bin',
      urls: [url],
      size: 10,
      priority: 'normal',
      importance: 0,
      offset,
    }) as Fragment;

  it('is what it was for a URL without credentials: existing entries keep hitting', () => {
    expect(cacheKey(fragment('http://h/m/a.bin?v=1&x=2'))).toBe('fragfetch:url:http://h/m/a.bin?v=1&x=2');
    expect(cacheKey(fragment('http://h/pkg@1.0/a.bin', 5))).toBe('fragfetch:url:http://h/pkg@1.0/a.bin#5+10');
  });

  it('leaves a token out', () => {
    expect(cacheKey(fragment('http://h/m/a.bin?token=t&v=1'))).toBe('fragfetch:url:http://h/m/a.bin?v=1');
  });
});
