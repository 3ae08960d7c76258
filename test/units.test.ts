import { describe, expect, it } from 'vitest';
import { isFragfetchError } from '../src/errors.js';
import {
  formatBytes,
  formatDuration,
  formatRate,
  parseDuration,
  parseSize,
  plural,
  oneLine,
} from '../src/units.js';

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isFragfetchError(error, 'EUSAGE')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('parseSize', () => {
  it.each([
    ['0', 0],
    ['4096', 4096],
    ['4096B', 4096],
    ['4096 b', 4096],
    ['64KiB', 65536],
    ['64kib', 65536],
    ['64K', 65536],
    ['64k', 65536],
    ['16MiB', 16 * 1024 ** 2],
    ['16M', 16 * 1024 ** 2],
    ['1GiB', 1024 ** 3],
    ['2TiB', 2 * 1024 ** 4],
    ['1GB', 1e9],
    ['1gb', 1e9],
    ['500kB', 500_000],
    ['500KB', 500_000],
    ['2MB', 2_000_000],
    ['1.5MiB', 1_572_864],
    ['1.1MB', 1_100_000],
    ['0.5KiB', 512],
    [' 50MiB ', 50 * 1024 ** 2],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ])('%j → %d', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each([
    '',
    'abc',
    '-1',
    '1.5',
    '0.3KiB',
    '1e6',
    '5 parsecs',
    'MiB',
    '1.MiB',
    '10 XB',
    '9007199254740992',
    '1,5MiB',
  ])('rejects %j', (text) => {
    expect(usageError(() => parseSize(text))).toBe(
      `invalid size "${text}": expected a number with an optional unit (e.g. 64KiB, 16MiB, 1GB)`,
    );
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['3s', 3000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['0.25s', 250],
    ['3', 3000],
    ['0', 0],
    ['1.5', 1500],
    ['1m30s', 90_000],
    ['1h 2m', 3_720_000],
    ['3S', 3000],
    [' 10s ', 10_000],
    ['10 s', 10_000],
  ])('%j → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5 parsecs', 'abc', '-3s', 's', '3x', '1m30', '3 seconds', '1e3', '.5s'])(
    'rejects %j',
    (text) => {
      expect(usageError(() => parseDuration(text))).toBe(
        `invalid duration "${text}": expected a number with a unit (e.g. 500ms, 3s, 2m, 1h)`,
      );
    },
  );
});

describe('formatBytes / formatRate', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1_572_864, '1.5 MiB'],
    [1024 ** 2 - 1, '1.0 MiB'],
    [3 * 1024 ** 3, '3.0 GiB'],
    [5.5 * 1024 ** 4, '5.5 TiB'],
    [-2048, '-2.0 KiB'],
    [10.4, '10 B'],
  ])('formatBytes(%d) → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it.each([
    [0, '0 B/s'],
    [12.3 * 1024 ** 2, '12.3 MiB/s'],
    [800, '800 B/s'],
  ])('formatRate(%d) → %s', (rate, text) => {
    expect(formatRate(rate)).toBe(text);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 ms'],
    [850, '850 ms'],
    [999.4, '999 ms'],
    [999.6, '1.0 s'],
    [2400, '2.4 s'],
    [59_940, '59.9 s'],
    [59_960, '1m 00s'],
    [185_000, '3m 05s'],
    [3_723_000, '1h 02m 03s'],
  ])('formatDuration(%d) → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('plural', () => {
  it.each([
    [1, 'fragment', '1 fragment'],
    [0, 'fragment', '0 fragments'],
    [2, 'fragment', '2 fragments'],
    [1, 'entry', '1 entry'],
    [3, 'entry', '3 entries'],
    [2, 'retry', '2 retries'],
    [2, 'key', '2 keys'],
    [2, 'process', '2 processes'],
  ])('%i %s → %s', (count, noun, expected) => {
    expect(plural(count, noun)).toBe(expected);
  });

  it('takes an irregular plural', () => {
    expect(plural(2, 'child', 'children')).toBe('2 children');
    expect(plural(1, 'child', 'children')).toBe('1 child');
  });
});

describe('oneLine', () => {
  it('keeps a printable name as it is', () => {
    expect(oneLine('tiny "model" é 模型')).toBe('tiny "model" é 模型');
  });

  it('quotes and escapes one with a line break, a control character or a line separator', () => {
    expect(oneLine('a\nb')).toBe('"a\\nb"');
    expect(oneLine('\u001b[31mred')).toBe('"\\u001b[31mred"');
    expect(oneLine('del\u007f nel\u0085 ls\u2028 ps\u2029')).toBe(
      '"del\\u007f nel\\u0085 ls\\u2028 ps\\u2029"',
    );
    for (const text of ['a\nb', '\u0085', '\u2028', 'x\ty'])
      expect(oneLine(text)).not.toMatch(/[\n\u0085\u2028\t]/);
  });
});
