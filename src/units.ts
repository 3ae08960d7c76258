import { FragfetchError } from './errors.js';

const KI = 1024n;

/**
 * Bare K/M/G/T are binary, as in curl, aria2 and rclone; an explicit `B` after a decimal prefix
 * (`kB`, `MB`, `GB`) is SI, as in disk and network specifications.
 */
const SIZE_UNITS: Record<string, bigint> = {
  '': 1n,
  b: 1n,
  k: KI,
  ki: KI,
  kib: KI,
  kb: 1000n,
  m: KI ** 2n,
  mi: KI ** 2n,
  mib: KI ** 2n,
  mb: 1000n ** 2n,
  g: KI ** 3n,
  gi: KI ** 3n,
  gib: KI ** 3n,
  gb: 1000n ** 3n,
  t: KI ** 4n,
  ti: KI ** 4n,
  tib: KI ** 4n,
  tb: 1000n ** 4n,
};

const SIZE = /^(\d+)(?:\.(\d+))?\s*([a-z]*)$/i;

/** Parses `4096`, `64KiB`, `1.5MiB`, `1GB` into bytes. */
export function parseSize(text: string): number {
  const match = SIZE.exec(text.trim());
  const unit = match === null ? undefined : SIZE_UNITS[match[3]!.toLowerCase()];
  if (match !== null && unit !== undefined) {
    // Exact decimal arithmetic: 1.1 * 10^6 in floating point is not 1100000.
    const fraction = match[2] ?? '';
    const scaled = BigInt(match[1]! + fraction) * unit;
    const divisor = 10n ** BigInt(fraction.length);
    if (scaled % divisor === 0n && scaled / divisor <= BigInt(Number.MAX_SAFE_INTEGER)) {
      return Number(scaled / divisor);
    }
  }
  throw new FragfetchError(
    'EUSAGE',
    `invalid size "${text}": expected a number with an optional unit (e.g. 64KiB, 16MiB, 1GB)`,
  );
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*/iy;
const PLAIN_SECONDS = /^\d+(?:\.\d+)?$/;

/** Parses `500ms`, `3s`, `2m`, `1h`, `1m30s`, or a plain number of seconds, into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  let ms = Number.NaN;
  if (PLAIN_SECONDS.test(trimmed)) {
    ms = Number(trimmed) * 1000;
  } else if (trimmed !== '') {
    ms = 0;
    DURATION_PART.lastIndex = 0;
    while (DURATION_PART.lastIndex < trimmed.length) {
      const part = DURATION_PART.exec(trimmed);
      if (part === null) {
        ms = Number.NaN;
        break;
      }
      ms += Number(part[1]) * DURATION_UNITS[part[2]!.toLowerCase()]!;
    }
  }
  if (Number.isFinite(ms) && ms <= Number.MAX_SAFE_INTEGER) return Math.round(ms);
  throw new FragfetchError(
    'EUSAGE',
    `invalid duration "${text}": expected a number with a unit (e.g. 500ms, 3s, 2m, 1h)`,
  );
}

const BINARY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** `512 B`, `1.5 MiB`, `3.0 GiB`: binary units, one decimal. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return `${bytes} B`;
  const sign = bytes < 0 ? '-' : '';
  let value = Math.abs(bytes);
  if (Math.round(value) < 1024) return `${sign}${Math.round(value)} B`;
  let unit = 0;
  value /= 1024;
  // Step up when rounding to one decimal would print 1024.0 of the smaller unit.
  while (Math.round(value * 10) >= 1024 * 10 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${sign}${value.toFixed(1)} ${BINARY_UNITS[unit]}`;
}

/** `12.3 MiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** `850 ms`, `2.4 s`, `3m 05s`, `1h 02m 03s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return `${ms} ms`;
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (Math.round(ms) < 1000) return `${Math.round(ms)} ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)} s`;
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = String(totalSeconds % 60).padStart(2, '0');
  if (hours === 0) return `${minutes}m ${seconds}s`;
  return `${hours}h ${String(minutes).padStart(2, '0')}m ${seconds}s`;
}

/**
 * `1 fragment`, `3 fragments`, `1 entry`, `2 entries`, `0 retries`: the count and its noun in the
 * right number. English rules for the nouns fragfetch counts; pass `many` for any other.
 */
export function plural(count: number, one: string, many = pluralOf(one)): string {
  return `${count} ${count === 1 ? one : many}`;
}

function pluralOf(noun: string): string {
  if (/[^aeiou]y$/.test(noun)) return `${noun.slice(0, -1)}ies`;
  if (/(?:s|x|z|ch|sh)$/.test(noun)) return `${noun}es`;
  return `${noun}s`;
}

/** Control characters (C0, DEL, C1) and the line and paragraph separators. */
const UNPRINTABLE = /[\p{Cc}\u2028\u2029]/u;
const UNPRINTABLE_ALL = /[\p{Cc}\u2028\u2029]/gu;

/**
 * A name from a manifest or a server, as it goes into one line of output: quoted and escaped when it
 * holds a character that would break the line or drive the terminal (a line break, an escape
 * sequence); as it is otherwise.
 */
export function oneLine(text: string): string {
  if (!UNPRINTABLE.test(text)) return text;
  return JSON.stringify(text).replace(
    UNPRINTABLE_ALL,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * The widest of `items` as `width` measures it, 0 for none: a column's width. A loop, not
 * `Math.max(...)`, whose arguments overflow the stack past ~10^5 (a plan of 10^6 fragments).
 */
export function widest<T>(items: Iterable<T>, width: (item: T) => number): number {
  let most = 0;
  for (const item of items) most = Math.max(most, width(item));
  return most;
}
