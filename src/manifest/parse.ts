import { displayUrl, FragfetchError } from '../errors.js';
import { directManifest } from './direct.js';
import type { Fragment, Manifest } from './fragment.js';
import { FragmentResolver } from './resolve.js';
import { scanManifest } from './scan.js';
import { issueLines, manifestSchema, summarizeProblems } from './schema.js';

export { resolveAgainstBase } from './resolve.js';

/**
 * Validates a parsed manifest document and resolves every fragment's candidate URLs. Pure: `source`
 * is only used to resolve relative paths (when it is a URL) and to name the manifest in messages.
 */
export function parseManifest(json: unknown, source: string): Manifest {
  return directManifest(json, source) ?? schemaManifest(json, source);
}

/** The schema's way: slower, and what names every problem of an invalid manifest. */
export function schemaManifest(json: unknown, source: string): Manifest {
  const result = manifestSchema.safeParse(json);
  if (!result.success) throw invalid(source, issueLines(result.error.issues));
  const input = result.data;

  const resolver = new FragmentResolver(input.baseUrls ?? [], source);
  const unresolved: string[] = [];
  const fragments: Fragment[] = [];
  input.fragments.forEach((fields, index) => {
    const { url, id, path, offset, size, integrity, priority, importance } = fields;
    const Made = resolver.classFor(path, url);
    const fragment = new Made(id, path, offset, size, integrity, priority, importance, index);
    if (resolver.assign(fragment, url)) fragments.push(fragment);
    // A path may hold a line break: one line still.
    else
      unresolved.push(
        `fragments[${index}]: no url and no baseUrls to resolve ${JSON.stringify(path)} against`,
      );
  });
  if (unresolved.length > 0) throw invalid(source, unresolved);

  const manifest: Manifest = { version: 1, source: displayUrl(source), fragments };
  if (input.name !== undefined) manifest.name = input.name;
  if (resolver.logins.size > 0) manifest.logins = resolver.logins;
  return manifest;
}

/** Parses manifest text; a JSON syntax error becomes one line naming the manifest and the position. */
export function parseManifestText(text: string, source: string): Manifest {
  return fromRead(readManifestText(text, source), source);
}

/** The manifest, read from its text, or the document, for parseManifest. */
export type ReadManifest = { manifest: Manifest } | { json: unknown };

/**
 * Reads the manifest from its text at once when it is of the scanner's form (scan.ts), else parses
 * it: a caller that makes this its own frame leaves the text unreachable while a document is checked.
 */
export function readManifestText(text: string, source: string): ReadManifest {
  const manifest = scanManifest(withoutBom(text), source);
  return manifest === undefined ? { json: parseJson(text, source) } : { manifest };
}

export function fromRead(read: ReadManifest, source: string): Manifest {
  return 'manifest' in read ? read.manifest : parseManifest(read.json, source);
}

/** JSON.parse, with a syntax error told as one line naming the manifest and the position. */
export function parseJson(text: string, source: string): unknown {
  const body = withoutBom(text);
  try {
    return JSON.parse(body);
  } catch (error) {
    throw invalid(source, [`not valid JSON (${describeJsonError(body, error)})`]);
  }
}

/** Editors on Windows like to start UTF-8 files with a byte order mark, which JSON.parse rejects. */
function withoutBom(text: string): string {
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
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
