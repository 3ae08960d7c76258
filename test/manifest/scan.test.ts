import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeScaleManifest } from '../../bench/scale-manifest.js';
import type { Manifest } from '../../src/manifest/fragment.js';
import { parseManifest, parseManifestText } from '../../src/manifest/parse.js';
import { scanManifest } from '../../src/manifest/scan.js';
import { hostileDocument, hostileText, plausibleDocument, renderText } from './hostile-manifests.js';

const SHA256 = 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';
const HEAD = '{"version":1,"baseUrls":["https://cdn.example/m/"],"fragments":';

/** What JSON.parse and the readers after it make of the text, or undefined when they refuse it. */
function byJsonParse(text: string, source = 'm.json'): Manifest | undefined {
  try {
    return parseManifest(JSON.parse(text), source);
  } catch {
    return undefined;
  }
}

/** The scanner takes `text` and reads it as JSON.parse and parseManifest do. */
function expectScanned(text: string, source = 'm.json'): Manifest {
  const scanned = scanManifest(text, source);
  expect(scanned, text).toBeDefined();
  const parsed = byJsonParse(text, source);
  expect(scanned, text).toEqual(parsed);
  expect(scanned!.logins, text).toEqual(parsed!.logins);
  return scanned!;
}

describe('scanManifest', () => {
  it('reads the form tools write, as JSON.parse and parseManifest do', () => {
    const manifest = expectScanned(
      `${HEAD}[{"path":"a.bin","size":10,"integrity":"${SHA256}","priority":"high","importance":0.5},` +
        `{"path":"big","offset":0,"size":4096},{"path":"big","offset":4096,"size":4096,"id":"second"},` +
        `{"path":"c","url":"https://u:p@other.example/c?x=1"}]}`,
    );
    expect(manifest.fragments.map((f) => f.id)).toEqual(['a.bin', 'big#0', 'second', 'c']);
    expect(manifest.fragments[1]!.urls).toEqual(['https://cdn.example/m/big']);
    expect(manifest.logins?.size).toBe(1);
  });

  it('reads whitespace anywhere JSON allows it, and a name', () => {
    const text = ` \r\n{ "version" : 1 ,\t"name": "tiny", "baseUrls" : [ "https://a.example/" , "https://b.example/x" ] ,
      "fragments" : [ { "path" : "a" , "size" : 0 } ,
        { "path": "b/c", "offset": 7, "size": 1 } ] } \n`;
    expect(expectScanned(text).name).toBe('tiny');
    expectScanned(JSON.stringify(JSON.parse(text), null, 2));
  });

  it('reads numbers as JSON.parse does, past 15 digits, with signs, fractions and exponents', () => {
    for (const number of ['0', '1', '4096', '9007199254740991', '123456789012345', '1234567890123456']) {
      expectScanned(`${HEAD}[{"path":"a","size":${number}}]}`);
    }
    for (const importance of [
      '0.5',
      '1.0',
      '1E0',
      '0.1e1',
      '5e-1',
      '1e+0',
      '-0',
      '-0.0',
      '0.123456789012345678',
    ]) {
      const manifest = expectScanned(`${HEAD}[{"path":"a","importance":${importance}}]}`);
      expect(Object.is(manifest.fragments[0]!.importance, JSON.parse(importance))).toBe(true);
    }
  });

  it('leaves what is not of its form to JSON.parse, which reads it the same', () => {
    const texts = [
      `${HEAD}[{"path":"a\\u0062"}]}`, // an escape
      `${HEAD}[{"path":"a","extra":1}]}`, // a key it does not know
      `${HEAD}[{"path":"a","path":"b"}]}`, // a key twice: the last one for JSON.parse
      `{"version":1,"fragments":[{"path":"a"}],"baseUrls":["https://cdn.example/m/"]}`, // bases after
      `{"fragments":[{"path":"a"}],"version":1,"baseUrls":["https://cdn.example/m/"]}`, // version after
      `{"version":1,"version":1,"baseUrls":["https://cdn.example/m/"],"fragments":[{"path":"a"}]}`,
      `{"version":1,"sources":[],"baseUrls":["https://cdn.example/m/"],"fragments":[{"path":"a"}]}`,
      `${HEAD}[{"path":"a","size":null}]}`, // a literal: refused by the readers after JSON.parse
      `${HEAD}[{"path":"a","size":[1]}]}`, // a nested value
      `${HEAD}[{"path":"a"}]} x`, // text after the document
      `${HEAD}[{"path":"a"},]}`, // a trailing comma
      `${HEAD}[{"path":"a","size":01}]}`, // a leading zero
      `${HEAD}[{"path":"a","size":1.}]}`,
      `${HEAD}[{"path":"a","size":+1}]}`,
      `${HEAD}[{"path":"a","size":1e}]}`,
      `${HEAD}[{"path":"a\tb"}]}`, // a control character in a string
      `${HEAD}[{"path":"a"`, // cut short
      `${HEAD}[]}`,
      `${HEAD}[{}]}`,
      `${HEAD}[{"path":"a"},{"path":"a"}]}`, // a duplicate id
      `${HEAD}[{"path":"../a"}]}`, // a path the schema refuses
      `{"version":2,"baseUrls":["https://cdn.example/m/"],"fragments":[{"path":"a"}]}`,
      `{"version":1,"fragments":[{"path":"a"}]}`, // no base URLs, a local manifest
    ];
    for (const text of texts) {
      expect(scanManifest(text, 'm.json'), text).toBeUndefined();
      const parsed = byJsonParse(text);
      if (parsed === undefined) expect(() => parseManifestText(text, 'm.json')).toThrow();
      else expect(parseManifestText(text, 'm.json')).toEqual(parsed);
    }
  });

  it('reads the bench’s manifest of the scale scenario', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'fragfetch-scan-'));
    try {
      const file = path.join(dir, 'm.json');
      await writeScaleManifest(file, 3000);
      const manifest = expectScanned(await readFile(file, 'utf8'));
      expect(manifest.fragments).toHaveLength(3000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('on the property tests’ documents and texts: reads what it takes as JSON.parse does', () => {
    // FRAGFETCH_PROPS_SEED=<seed> replays a failure, as in properties.test.ts.
    const seed = Number(process.env.FRAGFETCH_PROPS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    let scanned = 0;
    let left = 0;
    // Keys the document does not know are left to JSON.parse: without them, most are the scanner's.
    const known = plausibleDocument.map((document) => {
      const { version, name, baseUrls, fragments } = document as Record<string, unknown>;
      return { version, name, baseUrls, fragments };
    });
    const text = fc.oneof(
      known.map(renderText),
      known.map((document) => JSON.stringify(document, null, 2)),
      plausibleDocument.map(renderText),
      hostileDocument.map(renderText),
      hostileText,
    );
    fc.assert(
      fc.property(text, fc.constantFrom('m.json', 'https://hub.example/m/manifest.json'), (text, source) => {
        const manifest = scanManifest(text, source);
        if (manifest === undefined) {
          left++;
          return;
        }
        scanned++;
        const parsed = byJsonParse(text, source);
        expect(manifest).toEqual(parsed);
        expect(manifest.logins).toEqual(parsed!.logins);
        expect(manifest.fragments.map((f) => f.urls)).toEqual(parsed!.fragments.map((f) => f.urls));
      }),
      { numRuns: 1000, seed },
    );
    // Not vacuous: the scanner takes many of them, and leaves many.
    expect(scanned).toBeGreaterThan(40);
    expect(left).toBeGreaterThan(40);
  });
});
