import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FragfetchError } from '../../src/errors.js';
import { type Manifest, PRIORITIES } from '../../src/manifest/fragment.js';
import { parseManifest, parseManifestText } from '../../src/manifest/parse.js';
import { spawnCli } from '../support/cli.js';
import { tempDir } from '../support/fixtures.js';
import { hasRaw, hostileDocument, hostileText, plausibleDocument, renderText } from './hostile-manifests.js';

/**
 * Properties of manifest parsing over generated hostile documents (hostile-manifests.ts). A failure
 * prints fast-check's seed and the shrunk counterexample; FRAGFETCH_PROPS_SEED=<seed> replays it.
 */
const SEED = Number(process.env.FRAGFETCH_PROPS_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = { numRuns: 300, seed: SEED };
const SOURCE = 'm.json';
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

type Outcome = { manifest: Manifest } | { error: FragfetchError };

/** Parses; anything thrown but a one-line EMANIFEST FragfetchError fails the property. */
function outcome(parse: () => Manifest, source = SOURCE): Outcome {
  try {
    return { manifest: parse() };
  } catch (error) {
    if (!(error instanceof FragfetchError)) {
      throw new Error(`threw a non-FragfetchError: ${String(error)}`, { cause: error });
    }
    expect(error.code).toBe('EMANIFEST');
    expect(error.message.startsWith(`${source}: `)).toBe(true);
    expect(error.message).not.toMatch(/[\r\n]/);
    for (const problem of error.problems ?? []) expect(problem).not.toMatch(/[\r\n]/);
    return { error };
  }
}

/** Every accepted manifest, whatever its input, is one the engine and `mirror` can trust. */
function expectSound(manifest: Manifest, input: Record<string, unknown>): void {
  expect(manifest.version).toBe(1);
  expect(manifest.fragments.length).toBeGreaterThan(0);
  const ids = new Set<string>();
  manifest.fragments.forEach((fragment, index) => {
    expect(fragment.index).toBe(index);
    const { path } = fragment;
    // Relative and safe: what `mirror` joins under its folder and a base URL resolves under itself.
    expect(path.length).toBeGreaterThan(0);
    expect(path.startsWith('/')).toBe(false);
    expect(path).not.toMatch(/[\\\0]|^[A-Za-z]:/);
    expect(path).not.toMatch(/[\ud800-\udfff]/u); // a lone surrogate: no file name, no URL
    for (const segment of path.split('/')) expect(['', '.', '..']).not.toContain(segment);

    for (const n of [fragment.offset, fragment.size]) {
      if (n !== undefined) expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
    }
    if (fragment.offset !== undefined) {
      expect(fragment.size).toBeDefined();
      expect(fragment.offset + fragment.size!).toBeLessThanOrEqual(MAX_SAFE);
    }
    expect(fragment.id.length).toBeGreaterThan(0);
    expect(ids.has(fragment.id)).toBe(false);
    ids.add(fragment.id);
    expect(PRIORITIES).toContain(fragment.priority);
    expect(fragment.importance >= 0 && fragment.importance <= 1).toBe(true);
    if (fragment.integrity) expect(fragment.integrity.sri).toMatch(/^sha(256|384|512)-[A-Za-z0-9+/]+=*$/);
    expectUrls(fragment, input);
  });
}

/** Each URL is http(s) without a login; one resolved under a base stays under it and names the path. */
function expectUrls(fragment: Manifest['fragments'][number], input: Record<string, unknown>): void {
  expect(fragment.urls.length).toBeGreaterThan(0);
  for (const href of fragment.urls) {
    const url = new URL(href);
    expect(['http:', 'https:']).toContain(url.protocol);
    expect(url.username + url.password).toBe('');
  }
  const raw = (input.fragments as Record<string, unknown>[])[fragment.index]!;
  if (raw.url !== undefined) return;
  const bases = input.baseUrls as string[];
  expect(fragment.urls).toHaveLength(bases.length);
  fragment.urls.forEach((href, i) => {
    const base = new URL(bases[i]!);
    const url = new URL(href);
    const directory = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
    expect(url.origin).toBe(base.origin);
    expect(url.pathname.startsWith(directory)).toBe(true);
    expect(url.pathname.slice(directory.length).split('/').map(decodeURIComponent)).toEqual(
      fragment.path.split('/'),
    );
    expect(url.search).toBe(base.search);
  });
}

/** The manifest written back as a document: what `manifest create` or another tool would emit. */
function documentOf(manifest: Manifest): unknown {
  return {
    version: 1,
    ...(manifest.name === undefined ? {} : { name: manifest.name }),
    fragments: manifest.fragments.map((f) => ({
      id: f.id,
      path: f.path,
      url: f.urls[0],
      ...(f.offset === undefined ? {} : { offset: f.offset }),
      ...(f.size === undefined ? {} : { size: f.size }),
      ...(f.integrity === undefined ? {} : { integrity: f.integrity.sri }),
      priority: f.priority,
      importance: f.importance,
    })),
  };
}

/** Fields compared after a round trip: a document names one URL per fragment, not each mirror. */
function comparable(manifest: Manifest): unknown {
  return manifest.fragments.map(({ urls, ...rest }) => ({ ...rest, url: urls[0] }));
}

describe('manifest properties', () => {
  it(`parsing text returns a manifest or throws one EMANIFEST line, and agrees with the parsed value (seed ${SEED})`, () => {
    fc.assert(
      fc.property(hostileText, (text) => {
        const fromText = outcome(() => parseManifestText(text, SOURCE));
        let json: unknown;
        try {
          json = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
        } catch {
          expect('error' in fromText).toBe(true);
          return;
        }
        const fromValue = outcome(() => parseManifest(json, SOURCE));
        if ('error' in fromText)
          expect('error' in fromValue && fromValue.error.message).toBe(fromText.error.message);
        else expect('manifest' in fromValue).toBe(true);
      }),
      RUNS,
    );
  });

  it('every accepted manifest satisfies the invariants', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(plausibleDocument, hostileDocument), (document) => {
        const json: unknown = JSON.parse(renderText(document));
        const result = outcome(() => parseManifest(json, SOURCE));
        if ('error' in result) return;
        accepted++;
        expectSound(result.manifest, json as Record<string, unknown>);
      }),
      { ...RUNS, numRuns: 600 },
    );
    // The generators must reach accepted manifests often, or this property would check nothing.
    expect(accepted).toBeGreaterThan(60);
  });

  it('a valid manifest stays valid, and the same, after a JSON round trip', () => {
    fc.assert(
      fc.property(plausibleDocument, (document) => {
        const json: unknown = JSON.parse(renderText(document));
        const result = outcome(() => parseManifest(json, SOURCE));
        fc.pre('manifest' in result);
        const { manifest } = result as { manifest: Manifest };
        // Raw leaves (10^4-deep values, 1e309) do not survive JSON.stringify: only the rest does.
        if (!hasRaw(document)) {
          const again = parseManifestText(JSON.stringify(json), SOURCE);
          expect(again).toEqual(manifest);
        }
        const rewritten = parseManifestText(JSON.stringify(documentOf(manifest)), SOURCE);
        expect(comparable(rewritten)).toEqual(comparable(manifest));
      }),
      RUNS,
    );
  });
});

describe('manifest validate and fetch on hostile manifests, as processes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir('fragfetch-props-');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A few dozen: each sample is a process. */
  function samples(count: number, accepted: boolean): string[] {
    const out: string[] = [];
    const texts = fc.sample(hostileText, { numRuns: 4000, seed: SEED });
    for (const text of texts) {
      if (out.length === count) break;
      if ('manifest' in outcome(() => parseManifestText(text, SOURCE)) === accepted) out.push(text);
    }
    expect(out).toHaveLength(count);
    return out;
  }

  it('an invalid manifest exits 2 with its problems, one a line, and no stack trace', async () => {
    const texts = samples(16, false);
    for (const [index, text] of texts.entries()) {
      const file = join(dir, `invalid-${index}.json`);
      await writeFile(file, text);
      const cache = join(dir, `cache-${index}`);
      const { error } = outcome(() => parseManifestText(text, file), file) as { error: FragfetchError };
      const problems = error.problems ?? [error.message];
      // validate lists every problem (a header, then one a line); fetch names the first, on one line.
      const validate = await spawnCli(['manifest', 'validate', file]).done;
      const fetch = await spawnCli(['fetch', file, '--cache', cache, '--no-progress']).done;
      for (const run of [validate, fetch]) {
        expect(run.code, text.slice(0, 200)).toBe(2);
        expect(run.stdout).toBe('');
        expect(run.stderr).not.toMatch(/^\s+at /m);
        expect(run.stderr).toMatch(/^fragfetch: /);
        expect(run.stderr.endsWith('\n')).toBe(true);
      }
      const lines = validate.stderr.slice(0, -1).split('\n');
      expect(lines).toHaveLength(problems.length < 2 ? 1 : problems.length + 1);
      expect(fetch.stderr).toBe(`fragfetch: ${error.message}\n`);
      if (problems.length < 2) expect(validate.stderr).toBe(fetch.stderr);
      // Nothing downloaded, the cache untouched.
      if (existsSync(cache)) expect(await readdir(cache)).toEqual([]);
    }
  });

  it('a valid one is valid to the CLI too', async () => {
    for (const [index, text] of samples(4, true).entries()) {
      const file = join(dir, `valid-${index}.json`);
      await writeFile(file, text);
      const run = await spawnCli(['manifest', 'validate', file]).done;
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(/: valid, \d+ fragments?, /);
    }
  });
});
