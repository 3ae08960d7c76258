import { describe, expect, it } from 'vitest';
import { basic, Credentials, splitUserinfo } from '../../src/net/credentials.js';
import { netrcLogin, parseNetrc } from '../../src/net/netrc.js';

describe('parseNetrc', () => {
  it('reads machines, default, quoted values, and skips macro definitions', () => {
    const netrc = parseNetrc(
      [
        'machine cdn.example.com login alice password "a b"',
        'macdef init',
        'machine evil.example.com login x password y',
        '',
        'machine Hub.Example.com',
        '  login bob',
        '  password pw2',
        'default login anon password guest',
      ].join('\n'),
    );
    expect(netrcLogin(netrc, 'cdn.example.com')).toEqual({ login: 'alice', password: 'a b' });
    expect(netrcLogin(netrc, 'hub.example.com')).toEqual({ login: 'bob', password: 'pw2' });
    expect(netrc.machines.has('evil.example.com')).toBe(false);
    expect(netrcLogin(netrc, 'elsewhere.example.com')).toEqual({ login: 'anon', password: 'guest' });
  });
});

describe('Credentials', () => {
  const home = 'https://hub.example.com';
  const credentials = new Credentials({
    headers: { Authorization: 'Bearer h', 'X-Plain': 'p', 'Proxy-Authorization': 'Basic cHJveHk=' },
    token: 'tok',
    trust: { origins: [home] },
  });
  const at = (url: string, first = url) => credentials.headersFor(new URL(url), new URL(first));

  it('keeps credentials apart from plain headers, and the proxy one for the proxy', () => {
    expect(credentials.plainHeaders).toEqual({ 'x-plain': 'p' });
    expect(credentials.proxyAuthorization).toBe('Basic cHJveHk=');
  });

  it('sends them to a home origin, not to another, not after a redirect away, not down to http', () => {
    expect(at(`${home}/a`)).toEqual({ authorization: 'Bearer h' });
    expect(at('https://cdn.example.net/a')).toEqual({});
    expect(at('https://cdn.example.net/a', `${home}/a`)).toEqual({});
    expect(at('http://hub.example.com/a', `${home}/a`)).toBeUndefined();
  });

  it('takes a URL login for its origin, and the token where no header gives one', () => {
    const { url, origin, authorization } = splitUserinfo('https://u%40x:p%3Aw@files.example.com/m/');
    expect(url).toBe('https://files.example.com/m/');
    expect(authorization).toBe(basic('u@x', 'p:w'));
    const logins = new Credentials({
      headers: {},
      token: 'tok',
      trust: { origins: [home], userinfo: new Map([[origin!, authorization!]]) },
    });
    expect(logins.headersFor(new URL(url), new URL(url))).toEqual({ authorization });
    expect(logins.headersFor(new URL(`${home}/x`), new URL(`${home}/x`))).toEqual({
      authorization: 'Bearer tok',
    });
  });
});
