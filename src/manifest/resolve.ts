import { splitUserinfo, withoutLogins } from '../net/credentials.js';
import type { Fragment } from './fragment.js';
import { ReadFragment, type ReadFragmentClass } from './read-fragment.js';
import { isHttpUrl } from './schema.js';

/** Characters that neither encodeURIComponent nor URL resolution changes, by char code. */
const PLAIN_CHARS = new Uint8Array(128);
for (const char of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~!*'()-") {
  PLAIN_CHARS[char.charCodeAt(0)] = 1;
}
const SLASH = 0x2f;
const PERIOD = 0x2e;

/** A base URL parsed once: a plain path is appended to `prefix`, the base's query after it. */
interface Base {
  directory: URL;
  prefix: string;
  search: string;
}

/** The base URLs whose fragments' URLs are made as they are read: `prefix + path + search` of each, in turn. */
export type UrlBases = readonly Readonly<Pick<Base, 'prefix' | 'search'>>[];

/** Each resolver's class of fragments with URLs made as they are read, by its prototype, to its bases. */
const BASES_OF_PROTOTYPE = new WeakMap<object, UrlBases>();
let lastPrototype: unknown;
let lastBases: UrlBases | undefined;

/**
 * The bases a fragment's URLs are its path under, when they are made as they are read; undefined
 * for a fragment with URLs of its own. A reader of every fragment's first URL or origins (a dry run
 * of 10^6) takes what the bases have in common once, instead of building two URLs a fragment.
 */
export function urlBasesOf(fragment: Fragment): UrlBases | undefined {
  const prototype: unknown = Object.getPrototypeOf(fragment);
  if (prototype !== lastPrototype) {
    lastPrototype = prototype;
    lastBases = BASES_OF_PROTOTYPE.get(prototype as object);
  }
  return lastBases;
}

/**
 * Makes each fragment with its candidate URLs: its own `url`, else its path under each base URL in
 * turn, else (a manifest read over HTTP) its path next to the manifest. URLs carry no login: a login
 * written in one is kept in `logins`, by origin, for the requests to that origin.
 *
 * A path under base URLs that resolution leaves as it is (most of them) gets its URLs when they are
 * read, by a getter of the prototype of the resolver's own class of fragments: 10^6 fragments under
 * two base URLs held 130 MB of URL strings and arrays that a dry run reads once and a fetch once
 * per request. (`{ ...fragment }` of such a fragment has no `urls`: the engine's fragments are the
 * manifest's own.)
 */
export class FragmentResolver {
  readonly logins = new Map<string, string>();
  readonly #bases: Base[];
  /** Basic credentials of base URLs, by origin: set again for every fragment resolved under them. */
  readonly #baseLogins: [string, string][] = [];
  readonly #source: string;
  readonly #LazyUrls: ReadFragmentClass;

  constructor(baseUrls: readonly string[], source: string) {
    this.#source = source;
    this.#bases = baseUrls.map((href) => {
      const { url, origin, authorization } = splitUserinfo(href);
      if (origin !== undefined && authorization !== undefined) this.#baseLogins.push([origin, authorization]);
      return baseOf(url);
    });
    const bases = this.#bases;
    class LazyUrls extends ReadFragment {
      get urls(): string[] {
        const urls = new Array<string>(bases.length);
        for (let i = 0; i < bases.length; i++) urls[i] = `${bases[i]!.prefix}${this.path}${bases[i]!.search}`;
        return urls;
      }
    }
    BASES_OF_PROTOTYPE.set(LazyUrls.prototype, bases);
    this.#LazyUrls = LazyUrls;
  }

  /**
   * The class to make the fragment of `path` and `url` of: the resolver's own, with its URLs made as
   * they are read, for a plain path under base URLs; else ReadFragment, whose URLs `assign` sets.
   */
  classFor(path: string, url: string | undefined): ReadFragmentClass {
    return url === undefined && this.#bases.length > 0 && isPlainPath(path) ? this.#LazyUrls : ReadFragment;
  }

  /**
   * Gives a fragment made of `classFor`'s class its URLs, from its `url` or path; false when it has
   * none: no `url`, no base URLs and a manifest that is not at an http(s) URL.
   */
  assign(fragment: ReadFragment, url: string | undefined): fragment is Fragment {
    const target = fragment as Fragment;
    if (url !== undefined) {
      target.urls = withoutLogins([new URL(url).href], this.logins);
      return true;
    }
    const { path } = fragment;
    if (this.#bases.length > 0) {
      for (const [origin, authorization] of this.#baseLogins) this.logins.set(origin, authorization);
      if (!(fragment instanceof this.#LazyUrls))
        target.urls = this.#bases.map((base) => resolveUnder(base, path));
      return true;
    }
    // A manifest served over HTTP can sit next to its fragments; a local file has no such place.
    if (!isHttpUrl(this.#source)) return false;
    target.urls = withoutLogins([new URL(encodePath(path), this.#source).href], this.logins);
    return true;
  }
}

/**
 * Resolves a fragment path under a base URL, which is a directory even without its trailing slash.
 * A query on a base URL (an access token, say) applies to every object under it, so it is kept.
 */
export function resolveAgainstBase(base: string, path: string): string {
  return resolveUnder(baseOf(base), path);
}

function baseOf(href: string): Base {
  const directory = new URL(href);
  directory.hash = '';
  if (!directory.pathname.endsWith('/')) directory.pathname += '/';
  const search = directory.search;
  directory.search = '';
  return { directory, prefix: directory.href, search };
}

/** The base URL is parsed once; a plain path is then appended as it is, with no URL parse. */
function resolveUnder(base: Base, path: string): string {
  if (isPlainPath(path)) return `${base.prefix}${path}${base.search}`;
  const url = new URL(encodePath(path), base.directory);
  url.search = base.search;
  return url.href;
}

/**
 * A path resolution leaves as it is: plain characters, and no empty, `.` or `..` segment. The
 * characters are looked up, not matched: two regular expressions per fragment showed in profiles.
 */
function isPlainPath(path: string): boolean {
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    const code = i < path.length ? path.charCodeAt(i) : SLASH;
    if (code !== SLASH) {
      if (code >= 128 || PLAIN_CHARS[code] === 0) return false;
      continue;
    }
    const length = i - start;
    if (length === 0) return false;
    const dots =
      path.charCodeAt(start) === PERIOD &&
      (length === 1 || (length === 2 && path.charCodeAt(start + 1) === PERIOD));
    if (dots) return false;
    start = i + 1;
  }
  return true;
}

/** Each segment is percent-encoded so that names with `#`, `?`, `%` or spaces address that object. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
