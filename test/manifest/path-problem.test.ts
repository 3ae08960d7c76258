/**
 * pathProblem's one pass for usual paths decides as its full checks do: a path it lets through has
 * none of the problems, and each problem is still named by its own message.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pathProblem } from '../../src/manifest/schema.js';

/** The rules as the product states them, checked the slow way. */
function reference(path: string): boolean {
  if (path === '' || path.includes('\0') || path.includes('\\') || path.startsWith('/')) return false;
  if (/^[A-Za-z]:/.test(path)) return false;
  if (/[\ud800-\udfff]/u.test(path)) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

/** Strings made of the characters that matter here, and any other. */
const pathLike = fc
  .array(
    fc.oneof(
      fc.constantFrom('/', '.', '..', ':', 'C:', '\\', '\0', 'a', 'é', '😀', '\ud800', '\udfff', '"', ' '),
      fc.string({ maxLength: 3 }),
    ),
    { maxLength: 8 },
  )
  .map((parts) => parts.join(''));

describe('pathProblem', () => {
  it('finds a problem exactly when the rules say there is one', () => {
    fc.assert(
      fc.property(pathLike, (path) => {
        expect(pathProblem(path) === undefined).toBe(reference(path));
      }),
      { numRuns: 2000 },
    );
  });

  it('names each problem, usual-looking paths included', () => {
    expect(pathProblem('t/1/2')).toBeUndefined();
    expect(pathProblem('a/😀/b.c:d')).toBeUndefined();
    expect(pathProblem('x:/y')).toBe('must be a relative path, not a Windows drive path');
    expect(pathProblem('1:/y')).toBeUndefined();
    expect(pathProblem('a/\ud800')).toBe('must not contain a lone surrogate (invalid Unicode)');
    expect(pathProblem('a/./b')).toBe('must not contain "." segments');
    expect(pathProblem('a/../b')).toBe('must be a relative path without ".." segments');
    expect(pathProblem('a/')).toBe('must not contain empty segments ("//" or a trailing "/")');
    expect(pathProblem('/a')).toBe('must be a relative path, without a leading "/"');
    expect(pathProblem('a\0')).toBe('must not contain a NUL character');
    expect(pathProblem('')).toBe('must not be empty');
  });
});
