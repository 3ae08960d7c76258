import { FragfetchError } from '../errors.js';

/**
 * Shell-style globs as rsync and .gitignore users write them: `*` and `?` stay within one `/`
 * segment, `**` crosses segments, `[abc]` and `{a,b}` as in bash. A pattern without `/` is matched
 * against the last segment as well as the whole text, so `--exclude '*.md'` reaches every folder.
 */
export interface Glob {
  readonly pattern: string;
  matches(text: string): boolean;
}

export function compileGlob(pattern: string): Glob {
  if (pattern === '') throw new FragfetchError('EUSAGE', 'empty glob pattern');
  const regex = new RegExp(`^${translate(pattern)}$`, 'u');
  const anySegment = !pattern.includes('/');
  return {
    pattern,
    matches(text: string): boolean {
      if (regex.test(text)) return true;
      return anySegment && regex.test(text.slice(text.lastIndexOf('/') + 1));
    },
  };
}

function translate(pattern: string): string {
  let out = '';
  let braces = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        // "**/" also matches no folder at all, so "**/x" matches "x".
        if (pattern[i + 1] === '/') {
          i++;
          out += '(?:.*/)?';
        } else out += '.*';
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) throw new FragfetchError('EUSAGE', `invalid glob "${pattern}": "[" without "]"`);
      const body = pattern
        .slice(i + 1, end)
        .replace(/^!/, '^')
        .replace(/\\/g, '\\\\');
      out += `[${body}]`;
      i = end;
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else if (c === '\\' && i + 1 < pattern.length) out += escape(pattern[++i] as string);
    else out += escape(c);
  }
  if (braces > 0) throw new FragfetchError('EUSAGE', `invalid glob "${pattern}": "{" without "}"`);
  return out;
}

function escape(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}
