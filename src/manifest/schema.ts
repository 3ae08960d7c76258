import * as z from 'zod/mini';
import { PRIORITIES } from './fragment.js';
import { checkIntegrity } from './integrity.js';

/**
 * The JSON schema of manifest version 1. Every issue carries a message written for a person who is
 * editing the manifest; `issueLines` adds the field path. Unknown keys are dropped rather than
 * rejected so that older fragfetch versions can read manifests written for newer ones.
 */

type ErrorFn = (issue: { input?: unknown }) => string;

/** A required field that is absent gets "is required"; one of the wrong type gets `expected`. */
function expecting(expected: string): ErrorFn {
  return (issue) => (issue.input === undefined ? 'is required' : expected);
}

const NON_NEGATIVE_INTEGER = 'expected a non-negative integer';

const byteCount = z.number({ error: expecting(NON_NEGATIVE_INTEGER) }).check(
  z.refine((n) => Number.isInteger(n) && n >= 0, { error: NON_NEGATIVE_INTEGER, abort: true }),
  z.refine((n) => n <= Number.MAX_SAFE_INTEGER, { error: 'must be at most 2^53 - 1 (9007199254740991)' }),
);

/** A lone surrogate names no file and has no URL encoding (encodeURIComponent throws on it). */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** Why `path` cannot be a fragment path, or undefined when it can. Shared with `createManifest`. */
export function pathProblem(path: string): string | undefined {
  if (isUsualPath(path)) return undefined;
  if (path === '') return 'must not be empty';
  if (path.includes('\0')) return 'must not contain a NUL character';
  if (LONE_SURROGATE.test(path)) return 'must not contain a lone surrogate (invalid Unicode)';
  if (path.includes('\\')) return 'must use "/" as separator, not "\\"';
  if (path.startsWith('/')) return 'must be a relative path, without a leading "/"';
  if (DRIVE.test(path)) return 'must be a relative path, not a Windows drive path';
  const segments = segmentKinds(path);
  if (segments & DOT_DOT) return 'must be a relative path without ".." segments';
  if (segments & DOT) return 'must not contain "." segments';
  if (segments & EMPTY) return 'must not contain empty segments ("//" or a trailing "/")';
  return undefined;
}

const DRIVE = /^[A-Za-z]:/;
const SLASH = 0x2f;
const PERIOD = 0x2e;
const COLON = 0x3a;
const BACKSLASH = 0x5c;

/**
 * True when `path` has none of pathProblem's problems, seen in one pass over its char codes: no
 * NUL, backslash or surrogate (a pair goes the long way, to be told from a lone one), no `:` where a
 * drive's would be, no empty, `.` or `..` segment (so no leading `/`). False only sends a path to
 * the checks that say which problem it has: two regular expressions, two searches and a pass each,
 * per fragment of a manifest and again per file of a mirror.
 */
function isUsualPath(path: string): boolean {
  if (path.charCodeAt(1) === COLON) return false;
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    const code = i < path.length ? path.charCodeAt(i) : SLASH;
    if (code !== SLASH) {
      if (code === 0 || code === BACKSLASH || (code >= 0xd800 && code <= 0xdfff)) return false;
      continue;
    }
    const length = i - start;
    if (length === 0) return false;
    if (
      length <= 2 &&
      path.charCodeAt(start) === PERIOD &&
      (length === 1 || path.charCodeAt(start + 1) === PERIOD)
    )
      return false;
    start = i + 1;
  }
  return true;
}
const EMPTY = 1;
const DOT = 2;
const DOT_DOT = 4;

/**
 * Which of the empty, `.` and `..` segments `path` has, as bits, in one pass: a split per path was
 * an array and a string per segment, a tenth of the time of a manifest of 10^6 fragments.
 */
function segmentKinds(path: string): number {
  let kinds = 0;
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i < path.length && path.charCodeAt(i) !== SLASH) continue;
    const length = i - start;
    if (length === 0) kinds |= EMPTY;
    else if (path.charCodeAt(start) === PERIOD && length <= 2) {
      if (length === 1) kinds |= DOT;
      else if (path.charCodeAt(start + 1) === PERIOD) kinds |= DOT_DOT;
    }
    start = i + 1;
  }
  return kinds;
}

const fragmentPath = z.string({ error: expecting('expected a string') }).check(
  z.superRefine((path, ctx) => {
    const problem = pathProblem(path);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: path });
  }),
);

export function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
}

const httpUrl = z
  .string({ error: expecting('expected an absolute http(s) URL') })
  .check(z.refine(isHttpUrl, { error: 'expected an absolute http(s) URL' }));

const integrity = z.pipe(
  z.string({ error: expecting('expected a string') }),
  z.transform((value: string, ctx) => {
    const result = checkIntegrity(value);
    if (typeof result !== 'string') return result;
    ctx.issues.push({ code: 'custom', message: result, input: value });
    return z.NEVER;
  }),
);

const PRIORITY_LIST = PRIORITIES.join(', ');

const fragmentSchema = z
  .object(
    {
      path: fragmentPath,
      url: z.optional(httpUrl),
      offset: z.optional(byteCount),
      size: z.optional(byteCount),
      integrity: z.optional(integrity),
      priority: z._default(z.enum(PRIORITIES, { error: `expected one of ${PRIORITY_LIST}` }), 'normal'),
      importance: z._default(
        z
          .number({ error: 'expected a number between 0 and 1' })
          .check(
            z.gte(0, { error: 'expected a number between 0 and 1' }),
            z.lte(1, { error: 'expected a number between 0 and 1' }),
          ),
        0,
      ),
      id: z.optional(
        z.string({ error: 'expected a string' }).check(z.minLength(1, { error: 'must not be empty' })),
      ),
    },
    { error: 'expected an object' },
  )
  .check(
    z.superRefine((fragment, ctx) => {
      // Without a size the end of the range is unknown, and a whole-object download would be wrong.
      if (fragment.offset !== undefined && fragment.size === undefined) {
        ctx.addIssue({ code: 'custom', path: ['size'], message: 'is required when offset is given' });
      }
      // The range's end is a byte position too: past 2^53 - 1, offset + size is rounded.
      const { offset, size } = fragment;
      if (
        offset !== undefined &&
        size !== undefined &&
        Number.isSafeInteger(offset) &&
        Number.isSafeInteger(size) &&
        offset + size > Number.MAX_SAFE_INTEGER
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['size'],
          message: 'offset + size must be at most 2^53 - 1 (9007199254740991)',
        });
      }
    }),
  );

export type FragmentInput = z.output<typeof fragmentSchema>;

/** The id a fragment is known by: explicit, else its path, with `#offset` for a byte range. */
export function fragmentId(fragment: Pick<FragmentInput, 'id' | 'path' | 'offset'>): string {
  if (fragment.id !== undefined) return fragment.id;
  return fragment.offset === undefined ? fragment.path : `${fragment.path}#${fragment.offset}`;
}

export const manifestSchema = z
  .object(
    {
      version: z.literal(1, {
        error: (issue) => (issue.input === undefined ? 'is required (expected 1)' : 'expected 1'),
      }),
      name: z.optional(z.string({ error: 'expected a string' })),
      baseUrls: z.optional(
        z
          .array(httpUrl, { error: 'expected an array of http(s) URLs' })
          .check(z.minLength(1, { error: 'must not be empty (omit it instead)' })),
      ),
      fragments: z
        .array(fragmentSchema, { error: expecting('expected an array of fragments') })
        .check(z.minLength(1, { error: 'must list at least one fragment' })),
    },
    { error: 'expected a JSON object' },
  )
  .check(
    z.superRefine((manifest, ctx) => {
      const seen = new Map<string, number>();
      manifest.fragments.forEach((fragment, index) => {
        const id = fragmentId(fragment);
        const first = seen.get(id);
        if (first === undefined) {
          seen.set(id, index);
          return;
        }
        ctx.addIssue({
          code: 'custom',
          // A default id is derived from the path, so point at the fragment rather than at an absent key.
          path: fragment.id === undefined ? ['fragments', index] : ['fragments', index, 'id'],
          // Quoted as JSON: an id may hold a line break, and a problem is one line.
          message: `duplicate id ${JSON.stringify(id)} (also fragments[${first}])`,
        });
      });
    }),
  );

export type ManifestInput = z.output<typeof manifestSchema>;

/** `fragments[3].size`, or `manifest` for the document itself. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === '' ? 'manifest' : out;
}

/** Each issue as a line naming its field: `fragments[3].size: expected a non-negative integer`. */
export function issueLines(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`);
}

/**
 * One line for an error message: the first problem, and how many others there are, never a dump of
 * every issue (`manifest validate` lists them all, from the error's `problems`).
 */
export function summarizeProblems(problems: readonly string[]): string {
  const first = problems[0];
  if (first === undefined) return 'invalid manifest';
  const more = problems.length - 1;
  if (more === 0) return first;
  return `${first} (and ${more} more ${more === 1 ? 'problem' : 'problems'})`;
}
