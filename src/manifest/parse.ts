import { displayUrl, FragfetchError } from '../errors.js';
import { withoutLogins } from '../net/credentials.js';
import type { Fragment, Manifest } from './fragment.js';
import { plainManifest } from './plain.js';
import {
  type FragmentInput,
  fragmentId,
  isHttpUrl,
  issueLines,
  manifestSchema,
  summarizeProblems,
} from './schema.js';

/**
 * Validates a parsed manifest document and resolves every fragment's candidate URLs. Pure: `source`
 * is only used to resolve relative paths (when it is a URL) and to name the manifest in messages.
 */
export function parseManifest(json: unknown, source: string): Manifest {
  let input = plainManifest(json);
  if (!input) {
    const result = manifestSchema.safeParse(json);
    if (!result.success) throw invalid(source, issueLines(result.error.issues));
    input = result.data;
  }

  const bases = (input.baseUrls ?? []).map(baseResolver);
  const logins = new Map<string, string>();
  const unresolved: string[] = [];
  const fragments = input.fragments.map((fragment, index): Fragment => {
    const urls = withoutLogins(fragmentUrls(fragment, bases, source), logins);
    if (urls.length === 0) {
      const path = JSON.stringify(fragment.path); // a path may hold a line break: one line still
      unresolved.push(`fragments[${index}]: no url and no baseUrls to resolve ${path} against`);
    }
    return toFragment(fragment, index, urls);
  });
  if (unresolved.length > 0) throw invalid(source, unresolved);

  const manifest: Manifest = { version: 1, source: displayUrl(source), fragments };
  if (input.name !== undefined) manifest.name = input.name;
  if (logins.size > 0) manifest.logins = logins;
  return manifest;
}

/** Parses manifest text; a JSON syntax error becomes one line naming the manifest and the position. */
export function parseManifestText(text: string, source: string): Manifest {
  // Editors on Windows like to start UTF-8 files with a byte order mark, which JSON.parse rejects.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw invalid(source, [`not valid JSON (${describeJsonError(body, error)})`]);
  }
  return parseManifest(json, source);
}

function fragmentUrls(
  fragment: FragmentInput,
  bases: readonly ((path: string) => string)[],
  source: string,
): string[] {
  if (fragment.url !== undefined) return [new URL(fragment.url).href];
  if (bases.length > 0) return bases.map((resolve) => resolve(fragment.path));
  // A manifest served over HTTP can sit next to its fragments; a local file has no such place.
  if (isHttpUrl(source)) return [new URL(encodePath(fragment.path), source).href];
  return [];
}

/**
 * Resolves a fragment path under a base URL, which is a directory even without its trailing slash.
 * A query on a base URL (an access token, say) applies to every object under it, so it is kept.
 */
export function resolveAgainstBase(base: string, path: string): string {
  return baseResolver(base)(path);
}

/** Characters that neither encodeURIComponent nor URL resolution changes, in non-dot segments. */
const PLAIN_PATH = /^[\w.~!*'()-]+(?:\/[\w.~!*'()-]+)*$/;
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

/**
 * The base URL is parsed once; a plain path (most of them: `model-00001-of-00004.safetensors`) is
 * then appended as it is — two URL parses per fragment were ~30 ms of a 2000-fragment start.
 */
function baseResolver(base: string): (path: string) => string {
  const directory = new URL(base);
  directory.hash = '';
  if (!directory.pathname.endsWith('/')) directory.pathname += '/';
  const search = directory.search;
  directory.search = '';
  const prefix = directory.href;
  return (path) => {
    if (PLAIN_PATH.test(path) && !DOT_SEGMENT.test(path)) return `${prefix}${path}${search}`;
    const url = new URL(encodePath(path), directory);
    url.search = search;
    return url.href;
  };
}

/** Each segment is percent-encoded so that names with `#`, `?`, `%` or spaces address that object. */
function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function toFragment(input: FragmentInput, index: number, urls: string[]): Fragment {
  const fragment: Fragment = {
    id: fragmentId(input),
    path: input.path,
    urls,
    priority: input.priority,
    importance: input.importance,
    index,
  };
  if (input.offset !== undefined) fragment.offset = input.offset;
  if (input.size !== undefined) fragment.size = input.size;
  if (input.integrity !== undefined) fragment.integrity = input.integrity;
  return fragment;
}

/** The message names the first problem (one line for `fetch`); `problems` holds them all. */
function invalid(source: string, problems: string[]): FragfetchError {
  return new FragfetchError('EMANIFEST', `${displayUrl(source)}: ${summarizeProblems(problems)}`, {
    problems,
  });
}

/**
 * V8's messages quote a snippet of the input (which may span lines) and give a position only for some
 * errors, so the reason is trimmed to its first clause and the position is found by a scan of our own.
 */
function describeJsonError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const reason = message
    .replace(/, ".*" is not valid JSON$/s, '')
    .replace(/( in JSON)? at position \d+.*$/s, '')
    .replace(/\p{Cc}/gu, (c) => JSON.stringify(c).slice(1, -1));
  let offset: number | undefined;
  try {
    offset = syntaxErrorOffset(text);
  } catch {
    // Nesting deep enough to overflow the scanner: the reason alone will have to do.
  }
  if (offset === undefined) return reason;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${reason} at position ${offset}, line ${line} column ${column}`;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

/** The offset of the first character that makes `text` invalid JSON, or undefined if it is valid. */
function syntaxErrorOffset(text: string): number | undefined {
  let i = 0;
  const space = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const literal = (word: string): boolean => {
    for (const char of word) {
      if (text[i] !== char) return false;
      i++;
    }
    return true;
  };
  const string = (): boolean => {
    i++;
    while (i < text.length) {
      const char = text[i]!;
      if (char === '"') {
        i++;
        return true;
      }
      if (char === '\\') {
        ESCAPE.lastIndex = i;
        if (!ESCAPE.test(text)) return false;
        i = ESCAPE.lastIndex;
      } else if (char < ' ') {
        return false;
      } else {
        i++;
      }
    }
    return false;
  };
  const sequence = (close: string, member: () => boolean): boolean => {
    i++;
    space();
    if (text[i] === close) {
      i++;
      return true;
    }
    for (;;) {
      if (!member()) return false;
      space();
      if (text[i] === close) {
        i++;
        return true;
      }
      if (text[i] !== ',') return false;
      i++;
    }
  };
  const value = (): boolean => {
    space();
    const char = text[i];
    if (char === '{') {
      return sequence('}', () => {
        space();
        if (text[i] !== '"' || !string()) return false;
        space();
        if (text[i] !== ':') return false;
        i++;
        return value();
      });
    }
    if (char === '[') return sequence(']', value);
    if (char === '"') return string();
    if (char === 't') return literal('true');
    if (char === 'f') return literal('false');
    if (char === 'n') return literal('null');
    NUMBER.lastIndex = i;
    if (!NUMBER.test(text)) return false;
    i = NUMBER.lastIndex;
    return true;
  };
  if (!value()) return i;
  space();
  return i < text.length ? i : undefined;
}
