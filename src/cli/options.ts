import { InvalidArgumentError, Option } from 'commander';
import { FragfetchError } from '../errors.js';
import { type EndpointOrder, fetchDefaults } from '../fetch/engine.js';
import { parseDuration, parseSize } from '../units.js';
import { type NetworkFlags, networkOptions } from './network.js';

/** Turns our parsers' errors into commander's, so a bad value is a usage error (exit 2) with one line. */
function parser<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (error) {
      throw new InvalidArgumentError(error instanceof Error ? error.message : String(error));
    }
  };
}

export const parsePositiveInt = parser((text: string) => {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1) {
    throw new FragfetchError('EUSAGE', `invalid number "${text}": expected a whole number of at least 1`);
  }
  return value;
});

export const parseCount = parser((text: string) => {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    throw new FragfetchError('EUSAGE', `invalid number "${text}": expected a whole number (0 or more)`);
  }
  return value;
});

export const parseSizeOption = parser(parseSize);

/** `auto`, or a whole number of at least 1. */
export const parseConcurrency = (text: string): number | 'auto' =>
  text.trim() === 'auto' ? 'auto' : parsePositiveInt(text);

/** A size that must be at least one byte: a chunk of 0 bytes would plan ranges for ever. */
export const parsePositiveSize = parser((text: string) => {
  const value = parseSize(text);
  if (value < 1) throw new FragfetchError('EUSAGE', `invalid size "${text}": expected at least 1 byte`);
  return value;
});
export const parseDurationOption = parser(parseDuration);

export const parseHeader = (text: string, previous: Record<string, string> = {}): Record<string, string> => {
  const colon = text.indexOf(':');
  const name = colon > 0 ? text.slice(0, colon).trim() : '';
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new InvalidArgumentError(`invalid header "${text}": expected "Name: value"`);
  }
  return { ...previous, [name.toLowerCase()]: text.slice(colon + 1).trim() };
};

/** The options every downloading command shares, with their defaults shown in `--help`. */
export function transferOptions(): Option[] {
  return [
    new Option('--cache <dir>', 'cache folder (default: $FRAGFETCH_CACHE, else the user cache folder)'),
    new Option(
      '-j, --concurrency <n>',
      'requests in flight at once; auto: from 16, more while throughput grows, fewer when a server is overloaded',
    )
      .default(fetchDefaults.concurrency)
      .argParser(parseConcurrency),
    new Option('--max-connections <n>', 'the most requests in flight -j auto may reach')
      .default(fetchDefaults.maxConnections)
      .argParser(parsePositiveInt),
    new Option('--retries <n>', 'retries of a failed request, with backoff')
      .default(fetchDefaults.retries)
      .argParser(parseCount),
    new Option(
      '--stall-timeout <duration>',
      'abort and retry a request that sends no byte for this long (0: no limit)',
    )
      .default(fetchDefaults.stallTimeoutMs, '30s')
      .argParser(parseDurationOption),
    new Option(
      '--min-speed <rate>',
      'abort and retry a request whose body arrives slower than this per second (0: no limit)',
    )
      .default(fetchDefaults.minSpeed, '1KiB')
      .argParser(parseSizeOption),
    new Option('--min-speed-time <duration>', 'the span over which --min-speed is judged')
      .default(fetchDefaults.minSpeedTimeMs, '30s')
      .argParser(parseDurationOption),
    new Option('--timeout <duration>', 'connect and response-header timeout (0: no limit)')
      .default(fetchDefaults.timeoutMs, '30s')
      .argParser(parseDurationOption),
    new Option('--limit-rate <size>', 'cap the total download rate, per second (e.g. 50MiB)').argParser(
      parseSizeOption,
    ),
    new Option('--chunk-size <size>', 'size of the ranges a large object is split into')
      .default(fetchDefaults.chunkSize, '8MiB')
      .argParser(parsePositiveSize),
    new Option('--split-threshold <size>', 'objects larger than this are fetched over several connections')
      .default(fetchDefaults.splitThreshold, '16MiB')
      .argParser(parseSizeOption),
    new Option(
      '--endpoint-order <order>',
      'fastest: spread work over the mirrors by measured speed; listed: the first healthy one, others on failure',
    )
      .choices(['fastest', 'listed'])
      .default(fetchDefaults.endpointOrder),
    new Option('-x, --connections-per-object <n>', 'connections for one large object')
      .default(fetchDefaults.maxConnectionsPerObject)
      .argParser(parsePositiveInt),
    new Option('-H, --header <header>', 'extra request header "Name: value" (repeatable)').argParser(
      parseHeader,
    ),
    ...networkOptions(),
    new Option('--json', 'print one JSON report on stdout, nothing else'),
    new Option('--no-progress', 'no progress output'),
    new Option('-q, --quiet', 'only errors and the summary'),
    new Option('-v, --verbose', 'one line per request on stderr; stack traces on errors'),
  ];
}

/** `--dry-run` of the commands that download (`fetch`, `mirror`): plan, print, touch nothing. */
export function dryRunOption(): Option {
  return new Option(
    '-n, --dry-run',
    'list what would be downloaded and what is cached; send no request, change nothing',
  );
}

/** What commander hands an action, typed. */
export interface TransferFlags extends NetworkFlags {
  cache?: string;
  concurrency: number | 'auto';
  maxConnections: number;
  retries: number;
  stallTimeout: number;
  minSpeed?: number;
  minSpeedTime?: number;
  timeout: number;
  limitRate?: number;
  chunkSize: number;
  splitThreshold: number;
  connectionsPerObject: number;
  endpointOrder: EndpointOrder;
  header?: Record<string, string>;
  json?: boolean;
  progress: boolean;
  quiet?: boolean;
  verbose?: boolean;
  /** Only where `dryRunOption()` was added. */
  dryRun?: boolean;
}
