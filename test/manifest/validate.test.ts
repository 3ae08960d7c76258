import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FragfetchError, isFragfetchError } from '../../src/errors.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { basic } from '../../src/net/credentials.js';
import { runCli } from '../support/cli.js';

const BASE = 'https://cdn.example.com/m/';
const SHA256 = 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';

/** A valid manifest with `fragments[0]` replaced (or extended) by `fragment`. */
function withFragment(fragment: Record<string, unknown>, extra: Record<string, unknown>[] = []) {
  return { version: 1, baseUrls: [BASE], fragments: [fragment, ...extra] };
}

/** The one-line problem, without the `<source>: ` prefix. */
function problem(json: unknown, source = 'm.json'): string {
  try {
    parseManifest(json, source);
  } catch (error) {
    expect(isFragfetchError(error, 'EMANIFEST')).toBe(true);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    expect(message.startsWith(`${source}: `)).toBe(true);
    return message.slice(source.length + 2);
  }
  throw new Error('expected the manifest to be rejected');
}

describe('manifest validation: the document', () => {
  it.each([
    [null, 'manifest: expected a JSON object'],
    [[], 'manifest: expected a JSON object'],
    ['x', 'manifest: expected a JSON object'],
    [{ fragments: [{ path: 'a' }], baseUrls: [BASE] }, 'version: is required (expected 1)'],
    [{ version: 2, fragments: [{ path: 'a' }], baseUrls: [BASE] }, 'version: expected 1'],
    [{ version: '1', fragments: [{ path: 'a' }], baseUrls: [BASE] }, 'version: expected 1'],
    [{ version: 1, name: 5, fragments: [{ path: 'a' }], baseUrls: [BASE] }, 'name: expected a string'],
    [{ version: 1, baseUrls: [BASE] }, 'fragments: is required'],
    [{ version: 1, baseUrls: [BASE], fragments: {} }, 'fragments: expected an array of fragments'],
    [{ version: 1, baseUrls: [BASE], fragments: [] }, 'fragments: must list at least one fragment'],
    [
      { version: 1, baseUrls: BASE, fragments: [{ path: 'a' }] },
      'baseUrls: expected an array of http(s) URLs',
    ],
    [
      { version: 1, baseUrls: [], fragments: [{ path: 'a' }] },
      'baseUrls: must not be empty (omit it instead)',
    ],
    [
      { version: 1, baseUrls: [BASE, 'ftp://x.example/'], fragments: [{ path: 'a' }] },
      'baseUrls[1]: expected an absolute http(s) URL',
    ],
    [
      { version: 1, baseUrls: ['models/'], fragments: [{ path: 'a' }] },
      'baseUrls[0]: expected an absolute http(s) URL',
    ],
    [{ version: 1, baseUrls: [BASE], fragments: ['a.bin'] }, 'fragments[0]: expected an object'],
  ])('%j → %s', (json, expected) => {
    expect(problem(json)).toBe(expected);
  });

  it('ignores unknown keys at both levels', () => {
    const manifest = parseManifest(
      {
        version: 1,
        generator: 'x',
        baseUrls: [BASE],
        fragments: [{ path: 'a', dtype: 'q4', shape: [1, 2] }],
      },
      'm.json',
    );
    expect(manifest.fragments[0]).not.toHaveProperty('dtype');
    expect(manifest).not.toHaveProperty('generator');
  });

  it('lists every problem on the error, the first in the message', () => {
    let error: unknown;
    try {
      parseManifest(withFragment({ path: '/a', size: -1 }, [{ path: 'b', priority: 'urgent' }]), 'm.json');
    } catch (e) {
      error = e;
    }
    expect(isFragfetchError(error, 'EMANIFEST')).toBe(true);
    expect((error as FragfetchError).problems).toEqual([
      'fragments[0].path: must be a relative path, without a leading "/"',
      'fragments[0].size: expected a non-negative integer',
      expect.stringMatching(/^fragments\[1\]\.priority: /),
    ]);
  });

  it('reports the first problem and how many more there are', () => {
    expect(problem(withFragment({ path: '/a', size: -1 }, [{ path: 'b', priority: 'urgent' }]))).toBe(
      'fragments[0].path: must be a relative path, without a leading "/" (and 2 more problems)',
    );
    expect(problem(withFragment({ path: 'a', size: -1, importance: 2 }))).toBe(
      'fragments[0].size: expected a non-negative integer (and 1 more problem)',
    );
  });
});

describe('manifest validation: fragment paths', () => {
  it.each([
    [{}, 'is required'],
    [{ path: 7 }, 'expected a string'],
    [{ path: '' }, 'must not be empty'],
    [{ path: '/etc/passwd' }, 'must be a relative path, without a leading "/"'],
    [{ path: '../a.bin' }, 'must be a relative path without ".." segments'],
    [{ path: 'a/../../b' }, 'must be a relative path without ".." segments'],
    [{ path: 'a/..' }, 'must be a relative path without ".." segments'],
    [{ path: './a.bin' }, 'must not contain "." segments'],
    [{ path: 'a/./b' }, 'must not contain "." segments'],
    [{ path: 'a//b' }, 'must not contain empty segments ("//" or a trailing "/")'],
    [{ path: 'a/' }, 'must not contain empty segments ("//" or a trailing "/")'],
    [{ path: 'a\\b' }, 'must use "/" as separator, not "\\"'],
    [{ path: '..\\..\\b' }, 'must use "/" as separator, not "\\"'],
    [{ path: 'a\u0000b' }, 'must not contain a NUL character'],
    [{ path: 'a\ud800b' }, 'must not contain a lone surrogate (invalid Unicode)'],
    [{ path: 'dir/\udfff' }, 'must not contain a lone surrogate (invalid Unicode)'],
    [{ path: 'C:/Windows/a' }, 'must be a relative path, not a Windows drive path'],
    [{ path: 'c:a' }, 'must be a relative path, not a Windows drive path'],
  ])('%j → fragments[0].path: %s', (fragment, expected) => {
    expect(problem(withFragment(fragment))).toBe(`fragments[0].path: ${expected}`);
  });

  it.each([
    'a.bin',
    'dir/sub/a.bin',
    '..a',
    'a..',
    '.hidden',
    'a b/c#d?.bin',
    'ünïcode/模型.bin',
    'v1:2/x',
    'emoji-😀.bin',
  ])('accepts %j', (path) => {
    expect(parseManifest(withFragment({ path }), 'm.json').fragments[0]!.path).toBe(path);
  });
});

describe('manifest validation: fragment fields', () => {
  it.each([
    [{ path: 'a', size: -1 }, 'fragments[0].size: expected a non-negative integer'],
    [{ path: 'a', size: 1.5 }, 'fragments[0].size: expected a non-negative integer'],
    [{ path: 'a', size: '10' }, 'fragments[0].size: expected a non-negative integer'],
    [{ path: 'a', size: null }, 'fragments[0].size: expected a non-negative integer'],
    [{ path: 'a', size: 2 ** 53 }, 'fragments[0].size: must be at most 2^53 - 1 (9007199254740991)'],
    [{ path: 'a', offset: -4, size: 1 }, 'fragments[0].offset: expected a non-negative integer'],
    [
      { path: 'a', offset: 1e300, size: 1 },
      'fragments[0].offset: must be at most 2^53 - 1 (9007199254740991)',
    ],
    [{ path: 'a', offset: 4096 }, 'fragments[0].size: is required when offset is given'],
    [
      { path: 'a', offset: 2 ** 53 - 1, size: 1 },
      'fragments[0].size: offset + size must be at most 2^53 - 1 (9007199254740991)',
    ],
    [
      { path: 'a', offset: 1, size: 2 ** 53 - 1 },
      'fragments[0].size: offset + size must be at most 2^53 - 1 (9007199254740991)',
    ],
    [{ path: 'a', url: 'tok.json' }, 'fragments[0].url: expected an absolute http(s) URL'],
    [{ path: 'a', url: 'file:///etc/passwd' }, 'fragments[0].url: expected an absolute http(s) URL'],
    [{ path: 'a', url: 42 }, 'fragments[0].url: expected an absolute http(s) URL'],
    [{ path: 'a', integrity: 5 }, 'fragments[0].integrity: expected a string'],
    [
      { path: 'a', integrity: 'sha256:abc' },
      'fragments[0].integrity: a sha256 hex digest is 64 characters, found 3',
    ],
    [
      { path: 'a', integrity: 'crc32:1234' },
      'fragments[0].integrity: unsupported algorithm "crc32" (use sha256, sha384 or sha512)',
    ],
    [
      { path: 'a', priority: 'urgent' },
      'fragments[0].priority: expected one of critical, high, normal, low, background',
    ],
    [
      { path: 'a', priority: 'CRITICAL' },
      'fragments[0].priority: expected one of critical, high, normal, low, background',
    ],
    [{ path: 'a', importance: 1.5 }, 'fragments[0].importance: expected a number between 0 and 1'],
    [{ path: 'a', importance: -0.1 }, 'fragments[0].importance: expected a number between 0 and 1'],
    [{ path: 'a', importance: '0.5' }, 'fragments[0].importance: expected a number between 0 and 1'],
    [{ path: 'a', id: '' }, 'fragments[0].id: must not be empty'],
    [{ path: 'a', id: 3 }, 'fragments[0].id: expected a string'],
  ])('%j → %s', (fragment, expected) => {
    expect(problem(withFragment(fragment))).toBe(expected);
  });

  it('accepts the boundaries', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const manifest = parseManifest(
      withFragment({ path: 'a', offset: max, size: 0, importance: 1 }, [
        { path: 'b', size: max, importance: 0 },
      ]),
      'm.json',
    );
    expect(manifest.fragments.map((f) => [f.offset, f.size, f.importance])).toEqual([
      [max, 0, 1],
      [undefined, max, 0],
    ]);
  });

  it('points at the fragment that is wrong, not the first', () => {
    expect(
      problem(withFragment({ path: 'a' }, [{ path: 'b' }, { path: 'c' }, { path: 'd', size: -1 }])),
    ).toBe('fragments[3].size: expected a non-negative integer');
  });
});

describe('manifest validation: ids', () => {
  it('rejects a duplicate explicit id, naming both fragments', () => {
    expect(problem(withFragment({ path: 'a', id: 'x' }, [{ path: 'b' }, { path: 'c', id: 'x' }]))).toBe(
      'fragments[2].id: duplicate id "x" (also fragments[0])',
    );
  });

  it('rejects the same path twice', () => {
    expect(problem(withFragment({ path: 'a.bin' }, [{ path: 'a.bin', priority: 'low' }]))).toBe(
      'fragments[1]: duplicate id "a.bin" (also fragments[0])',
    );
  });

  it('rejects the same range twice', () => {
    expect(
      problem(withFragment({ path: 'm.bin', offset: 0, size: 4 }, [{ path: 'm.bin', offset: 0, size: 8 }])),
    ).toBe('fragments[1]: duplicate id "m.bin#0" (also fragments[0])');
  });

  it('rejects an explicit id equal to another fragment default id', () => {
    expect(problem(withFragment({ path: 'a.bin' }, [{ path: 'b.bin', id: 'a.bin' }]))).toBe(
      'fragments[1].id: duplicate id "a.bin" (also fragments[0])',
    );
  });

  it('quotes an id as JSON, so that a line break in it keeps the problem on one line', () => {
    expect(problem(withFragment({ path: 'a', id: 'x\ny' }, [{ path: 'b', id: 'x\ny' }]))).toBe(
      'fragments[1].id: duplicate id "x\\ny" (also fragments[0])',
    );
  });

  it('accepts ranges of one path at different offsets, and a whole object beside them', () => {
    const manifest = parseManifest(
      withFragment({ path: 'm.bin', offset: 0, size: 4 }, [
        { path: 'm.bin', offset: 4, size: 4 },
        { path: 'm.bin' },
      ]),
      'm.json',
    );
    expect(manifest.fragments.map((f) => f.id)).toEqual(['m.bin#0', 'm.bin#4', 'm.bin']);
  });
});

describe('manifest validation: URLs', () => {
  it('rejects a local manifest whose fragment has no url and no baseUrls', () => {
    expect(
      problem({ version: 1, fragments: [{ path: 'x', url: 'https://a.example/x' }, { path: 'a.bin' }] }),
    ).toBe('fragments[1]: no url and no baseUrls to resolve "a.bin" against');
  });

  it('quotes the path it cannot resolve as JSON: a line break in it stays on the line', () => {
    expect(problem({ version: 1, fragments: [{ path: 'a\nb.bin' }] })).toBe(
      'fragments[0]: no url and no baseUrls to resolve "a\\nb.bin" against',
    );
  });

  it('names every fragment that has nowhere to come from, not just the first', () => {
    try {
      parseManifest({ version: 1, fragments: [{ path: 'a.bin' }, { path: 'b.bin' }] }, 'm.json');
      expect.unreachable();
    } catch (error) {
      expect((error as FragfetchError).problems).toEqual([
        'fragments[0]: no url and no baseUrls to resolve "a.bin" against',
        'fragments[1]: no url and no baseUrls to resolve "b.bin" against',
      ]);
    }
  });

  it('strips credentials from the source in messages', () => {
    try {
      parseManifest({ version: 2 }, 'https://user:secret@cdn.example.com/m.json');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toBe(
        'https://cdn.example.com/m.json: version: expected 1 (and 1 more problem)',
      );
    }
  });

  it('takes a login whose percent-encoding does not decode as written, out of the URLs', () => {
    const manifest = parseManifest(
      {
        version: 1,
        baseUrls: ['http://%ZZ@a.example/m/'],
        fragments: [{ path: 'a' }, { path: 'b', url: 'https://u:%C3@b.example/b' }],
      },
      'm.json',
    );
    expect(manifest.fragments.map((f) => f.urls)).toEqual([
      ['http://a.example/m/a'],
      ['https://b.example/b'],
    ]);
    expect(manifest.logins).toEqual(
      new Map([
        ['http://a.example', basic('%ZZ', '')],
        ['https://b.example', basic('u', '%C3')],
      ]),
    );
  });

  it('accepts a fragment with its own url and a valid integrity', () => {
    const manifest = parseManifest(
      { version: 1, fragments: [{ path: 'a', url: 'https://x.example/a', integrity: SHA256 }] },
      'm.json',
    );
    expect(manifest.fragments[0]!.integrity?.sri).toBe(SHA256);
  });
});

describe('fragfetch manifest validate', () => {
  let file: string;
  const invalid = withFragment({ path: '/a', size: -1, importance: 2 }, [{ path: 'b', priority: 'urgent' }]);
  beforeEach(async () => {
    file = join(await mkdtemp(join(tmpdir(), 'fragfetch-validate-')), 'm.json');
    await writeFile(file, JSON.stringify(invalid));
  });
  afterEach(async () => {
    await rm(dirname(file), { recursive: true, force: true });
  });

  it('prints every problem, one a line, and exits 2', async () => {
    const result = await runCli(['manifest', 'validate', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`fragfetch: ${file}: 4 problems`);
    expect(lines.slice(1)).toEqual([
      '  fragments[0].path: must be a relative path, without a leading "/"',
      '  fragments[0].size: expected a non-negative integer',
      expect.stringMatching(/^ {2}fragments\[0\]\.importance: /),
      expect.stringMatching(/^ {2}fragments\[1\]\.priority: /),
    ]);
    expect(result.stderr).not.toMatch(/more problems?\)/);
  });

  it('with --json, lists every problem in the error document', async () => {
    const result = await runCli(['manifest', 'validate', file, '--json']);
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout);
    expect(report.ok).toBe(false);
    expect(report.error.code).toBe('EMANIFEST');
    expect(report.error.problems).toHaveLength(4);
    expect(report.error.problems[3]).toMatch(/^fragments\[1\]\.priority: /);
  });

  it('keeps one line for a single problem', async () => {
    await writeFile(file, JSON.stringify(withFragment({ path: 'a', size: -1 })));
    const result = await runCli(['manifest', 'validate', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`fragfetch: ${file}: fragments[0].size: expected a non-negative integer\n`);
  });
});
