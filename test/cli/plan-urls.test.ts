/**
 * PlanUrls: a dry run's first URLs and endpoints, taken once per set of base URLs, are what each
 * fragment's own URLs give: the same redaction, the same quoting, the same counts.
 */
import { describe, expect, it } from 'vitest';
import { PlanUrls } from '../../src/cli/plan-urls.js';
import { displayUrl } from '../../src/errors.js';
import type { Fragment } from '../../src/manifest/fragment.js';
import { parseManifest } from '../../src/manifest/parse.js';
import { urlBasesOf } from '../../src/manifest/resolve.js';

const manifest = parseManifest(
  {
    version: 1,
    baseUrls: [
      'https://user:secret@cdn-eu.example.com/m/?token=abc&v=2',
      'https://cdn-us.example.com/m',
      'https://cdn-eu.example.com/other/',
    ],
    fragments: [
      { path: 'a/b.bin' },
      { path: 'c.bin' },
      // Not plain: resolved once, its URLs its own.
      { path: 'd e#1.bin' },
      { path: 'own.bin', url: 'https://elsewhere.example.com/own.bin?sig=xyz' },
      { path: 'f.bin' },
    ],
  },
  'manifest.json',
);

/** What each fragment's own URLs say, the way the dry run counted them before. */
function naiveEndpoints(fragments: readonly Fragment[]) {
  const endpoints = new Map<string, { url: string; primary: number; fallback: number }>();
  for (const fragment of fragments) {
    const origins = [...new Set(fragment.urls.map((url) => displayUrl(new URL(url).origin)))];
    for (const [i, origin] of origins.entries()) {
      let tally = endpoints.get(origin);
      if (tally === undefined) endpoints.set(origin, (tally = { url: origin, primary: 0, fallback: 0 }));
      if (i === 0) tally.primary++;
      else tally.fallback++;
    }
  }
  return [...endpoints.values()];
}

describe('PlanUrls', () => {
  it('knows which fragments are their path under the base URLs', () => {
    const [a, , spaced, own] = manifest.fragments;
    expect(urlBasesOf(a!)).toHaveLength(3);
    expect(urlBasesOf(spaced!)).toBeUndefined();
    expect(urlBasesOf(own!)).toBeUndefined();
    // A copy's URLs are its own: it is not taken for its path under the bases.
    expect(urlBasesOf({ ...a!, urls: a!.urls })).toBeUndefined();
  });

  it('gives a plain path under base URLs its URLs from its prototype, fields its own', () => {
    const [a, , spaced] = manifest.fragments;
    expect(Object.keys(a!)).toEqual(['id', 'path', 'priority', 'importance', 'index']);
    expect(Object.hasOwn(a!, 'urls')).toBe(false);
    expect(a!.urls).toEqual([
      'https://cdn-eu.example.com/m/a/b.bin?token=abc&v=2',
      'https://cdn-us.example.com/m/a/b.bin',
      'https://cdn-eu.example.com/other/a/b.bin',
    ]);
    // Each read is a new array: a caller may change it.
    expect(a!.urls).not.toBe(a!.urls);
    expect(Object.hasOwn(spaced!, 'urls')).toBe(true);
  });

  it('shows and quotes each first URL as its own URLs would be', () => {
    const urls = new PlanUrls();
    for (const fragment of manifest.fragments) {
      const shown = displayUrl(fragment.urls[0]!);
      expect(urls.first(fragment)).toBe(shown);
      expect(urls.quotedFirst(fragment)).toBe(JSON.stringify(shown));
    }
    expect(urls.first(manifest.fragments[0]!)).toBe('https://cdn-eu.example.com/m/a/b.bin?token=***&v=2');
  });

  it('counts the endpoints as each fragment would, runs broken by fragments of their own', () => {
    const urls = new PlanUrls();
    const counted = urls.endpoints(manifest.fragments);
    expect(counted).toEqual(naiveEndpoints(manifest.fragments));
    expect(counted).toEqual([
      { url: 'https://cdn-eu.example.com', primary: 4, fallback: 0 },
      { url: 'https://cdn-us.example.com', primary: 0, fallback: 4 },
      { url: 'https://elsewhere.example.com', primary: 1, fallback: 0 },
    ]);
  });
});
