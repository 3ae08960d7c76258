import { describe, expect, it } from 'vitest';
import { isFragfetchError } from '../../src/errors.js';
import { parseManifest, parseManifestText, resolveAgainstBase } from '../../src/manifest/parse.js';

const HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SRI = 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';

function urlsOf(json: unknown, source = 'm.json'): string[][] {
  return parseManifest(json, source).fragments.map((f) => f.urls);
}

describe('parseManifest: the example from PRODUCT.md', () => {
  const example = {
    version: 1,
    name: 'tiny-llm-q4',
    baseUrls: ['https://cdn-eu.example.com/models/tiny/', 'https://cdn-us.example.com/models/tiny/'],
    fragments: [
      {
        id: 'embed',
        path: 'embed.bin',
        size: 1048576,
        integrity: SRI,
        priority: 'critical',
        importance: 0.9,
      },
      {
        id: 'layer.0',
        path: 'model.bin',
        offset: 4096,
        size: 65536,
        integrity: `sha256:${HEX}`,
        priority: 'high',
      },
      { path: 'tokenizer.json', url: 'https://other.example.com/tok.json' },
    ],
  };

  it('yields fragments with defaults, indices and resolved URLs', () => {
    const manifest = parseManifest(example, 'model.json');
    expect(manifest.version).toBe(1);
    expect(manifest.name).toBe('tiny-llm-q4');
    expect(manifest.source).toBe('model.json');
    const integrity = { algorithm: 'sha256', digest: SRI.slice('sha256-'.length), sri: SRI };
    // A path under base URLs has its URLs from its prototype's getter: named, not spread.
    expect(manifest.fragments.map((f) => ({ ...f, urls: f.urls }))).toEqual([
      {
        id: 'embed',
        path: 'embed.bin',
        urls: [
          'https://cdn-eu.example.com/models/tiny/embed.bin',
          'https://cdn-us.example.com/models/tiny/embed.bin',
        ],
        size: 1048576,
        integrity,
        priority: 'critical',
        importance: 0.9,
        index: 0,
      },
      {
        id: 'layer.0',
        path: 'model.bin',
        urls: [
          'https://cdn-eu.example.com/models/tiny/model.bin',
          'https://cdn-us.example.com/models/tiny/model.bin',
        ],
        offset: 4096,
        size: 65536,
        integrity,
        priority: 'high',
        importance: 0,
        index: 1,
      },
      {
        id: 'tokenizer.json',
        path: 'tokenizer.json',
        urls: ['https://other.example.com/tok.json'],
        priority: 'normal',
        importance: 0,
        index: 2,
      },
    ]);
  });

  it('leaves optional fields absent rather than undefined', () => {
    const fragment = parseManifest(example, 'model.json').fragments[2]!;
    expect(Object.keys(fragment).sort()).toEqual(['id', 'importance', 'index', 'path', 'priority', 'urls']);
    expect('name' in parseManifest({ ...example, name: undefined }, 'model.json')).toBe(false);
  });

  it('gives a range its path#offset id', () => {
    const manifest = parseManifest(
      { version: 1, baseUrls: ['https://x.example/'], fragments: [{ path: 'm.bin', offset: 0, size: 1 }] },
      'm.json',
    );
    expect(manifest.fragments[0]!.id).toBe('m.bin#0');
  });
});

describe('URL resolution', () => {
  const manifest = (baseUrls: string[] | undefined, path: string, url?: string) => ({
    version: 1,
    ...(baseUrls === undefined ? {} : { baseUrls }),
    fragments: [{ path, ...(url === undefined ? {} : { url }) }],
  });

  it.each([
    ['https://cdn.example.com/models/tiny/', 'a.bin', 'https://cdn.example.com/models/tiny/a.bin'],
    ['https://cdn.example.com/models/tiny', 'a.bin', 'https://cdn.example.com/models/tiny/a.bin'],
    ['https://cdn.example.com', 'a.bin', 'https://cdn.example.com/a.bin'],
    ['https://cdn.example.com/', 'dir/sub/a.bin', 'https://cdn.example.com/dir/sub/a.bin'],
    ['http://127.0.0.1:8080/m', 'a.bin', 'http://127.0.0.1:8080/m/a.bin'],
    ['https://cdn.example.com/m/', 'a b/c#d?.bin', 'https://cdn.example.com/m/a%20b/c%23d%3F.bin'],
    ['https://cdn.example.com/m/', '100%.bin', 'https://cdn.example.com/m/100%25.bin'],
    ['https://cdn.example.com/m/', 'ab:c/d', 'https://cdn.example.com/m/ab%3Ac/d'],
    ['https://cdn.example.com/m/', '模型.bin', 'https://cdn.example.com/m/%E6%A8%A1%E5%9E%8B.bin'],
    ['https://cdn.example.com/m/?sv=1&sig=abc', 'a.bin', 'https://cdn.example.com/m/a.bin?sv=1&sig=abc'],
    ['https://cdn.example.com/m#frag', 'a.bin', 'https://cdn.example.com/m/a.bin'],
    [
      'https://cdn.example.com/m/?t=1',
      "w.e-i_g~h!t*s'(1).bin",
      "https://cdn.example.com/m/w.e-i_g~h!t*s'(1).bin?t=1",
    ],
    ['https://cdn.example.com/m/', '..x/.y/z..', 'https://cdn.example.com/m/..x/.y/z..'],
  ])('%s + %s → %s', (base, path, expected) => {
    expect(resolveAgainstBase(base, path)).toBe(expected);
    expect(urlsOf(manifest([base], path))).toEqual([[expected]]);
  });

  // Paths a manifest may not hold, but the resolver is exported: they still resolve as URLs do.
  it.each([
    ['a/./b', 'https://cdn.example.com/m/a/b?t=1'],
    ['a/../b', 'https://cdn.example.com/m/b?t=1'],
    ['./a', 'https://cdn.example.com/m/a?t=1'],
    ['a//b', 'https://cdn.example.com/m/a//b?t=1'],
    ['/a', 'https://cdn.example.com/a?t=1'],
  ])('resolves %s as the URL parser does', (path, expected) => {
    expect(resolveAgainstBase('https://cdn.example.com/m?t=1', path)).toBe(expected);
  });

  it('keeps the base URLs in order, for failover', () => {
    expect(urlsOf(manifest(['https://eu.example.com/m', 'https://us.example.com/m/'], 'a.bin'))).toEqual([
      ['https://eu.example.com/m/a.bin', 'https://us.example.com/m/a.bin'],
    ]);
  });

  it('prefers a fragment url over the base URLs', () => {
    expect(
      urlsOf(manifest(['https://eu.example.com/m'], 'a.bin', 'https://x.example.com/blob/1?sig=2')),
    ).toEqual([['https://x.example.com/blob/1?sig=2']]);
  });

  it('resolves against the directory of a manifest read from a URL, without its query', () => {
    expect(
      urlsOf(
        manifest(undefined, 'dir/a b.bin'),
        'https://hub.example.com/org/m/resolve/main/manifest.json?x=1',
      ),
    ).toEqual([['https://hub.example.com/org/m/resolve/main/dir/a%20b.bin']]);
    expect(urlsOf(manifest(undefined, 'a.bin'), 'http://127.0.0.1:9/manifest.json')).toEqual([
      ['http://127.0.0.1:9/a.bin'],
    ]);
  });

  it('uses the base URLs, not the manifest URL, when both exist', () => {
    expect(urlsOf(manifest(['https://cdn.example.com/'], 'a.bin'), 'https://hub.example.com/m.json')).toEqual(
      [['https://cdn.example.com/a.bin']],
    );
  });

  it('rejects a local manifest with neither url nor baseUrls, also for file: URLs', () => {
    for (const source of ['m.json', '/tmp/m.json', 'file:///tmp/m.json']) {
      expect(() => parseManifest(manifest(undefined, 'a.bin'), source)).toThrow(
        `${source}: fragments[0]: no url and no baseUrls to resolve "a.bin" against`,
      );
    }
  });
});

describe('parseManifestText', () => {
  function jsonProblem(text: string): string {
    try {
      parseManifestText(text, 'model.json');
    } catch (error) {
      expect(isFragfetchError(error, 'EMANIFEST')).toBe(true);
      const message = (error as Error).message;
      expect(message).not.toContain('\n');
      return message;
    }
    throw new Error('expected the text to be rejected');
  }

  it('parses valid text, with or without a byte order mark', () => {
    const text = JSON.stringify({ version: 1, baseUrls: ['https://x.example/'], fragments: [{ path: 'a' }] });
    expect(parseManifestText(text, 'm.json').fragments).toHaveLength(1);
    expect(parseManifestText(`\uFEFF${text}`, 'm.json').fragments).toHaveLength(1);
  });

  it.each([
    [
      '{"version": 1,}',
      'model.json: not valid JSON (Expected double-quoted property name at position 14, line 1 column 15)',
    ],
    [
      '{"version": 1',
      "model.json: not valid JSON (Expected ',' or '}' after property value at position 13, line 1 column 14)",
    ],
    ['', 'model.json: not valid JSON (Unexpected end of JSON input at position 0, line 1 column 1)'],
    [
      '{\n  "version": 1\n  "name": "x"\n}',
      "model.json: not valid JSON (Expected ',' or '}' after property value at position 19, line 3 column 3)",
    ],
    ['{"version":\n}', "model.json: not valid JSON (Unexpected token '}' at position 12, line 2 column 1)"],
    ['<html>404</html>', "model.json: not valid JSON (Unexpected token '<' at position 0, line 1 column 1)"],
    [
      '{"a":1} x',
      'model.json: not valid JSON (Unexpected non-whitespace character after JSON at position 8, line 1 column 9)',
    ],
  ])('%j → %s', (text, expected) => {
    expect(jsonProblem(text)).toBe(expected);
  });

  it('keeps a control character in the message escaped', () => {
    expect(jsonProblem('{"a":"x\ny"}')).toMatch(
      /^model.json: not valid JSON \(Bad control character in string literal.* line 1 column 8\)$/,
    );
  });

  it('validates the parsed document', () => {
    expect(jsonProblem('{"version": 2}')).toMatch(/^model.json: version: expected 1/);
  });
});
