/**
 * The manifest of the `manifest-scale` scenario (issue 19): 10^6 fragments over ~1000 files, written
 * compactly as a tool emitting that many would. Most files are cut into byte ranges (every range
 * names its offset and size), some are whole objects; priorities come in runs, as a model's layers
 * do; a share of the fragments declares integrity in each of the accepted spellings. Every
 * fragment carrying integrity makes the document ~115 MB, past the 64 MiB a manifest may be: a
 * quarter of them do (~50 MB in all). Deterministic: the same bytes every time.
 *
 *   node dist/bench/scale-manifest.js /tmp/scale.json [fragments]
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SCALE_FRAGMENTS = 1_000_000;
/** Files cut into ranges; the whole objects are that many again, 1 in 1000 fragments. */
const RANGE_FILES = 1000;
/** One run of 5000 fragments each, in turn: the layers of a model, most of them `normal` (the default). */
const PRIORITIES = [
  'critical',
  'high',
  ...new Array<'normal'>(8).fill('normal'),
  'low',
  'background',
] as const;

export interface ScaleManifest {
  fragments: number;
  files: number;
  bytes: number;
}

/** A digest that is a digest's length and differs per fragment, without hashing 10^6 contents. */
function integrityOf(n: number): string {
  const digest = createHash('sha256').update(String(n)).digest();
  switch (n % 7) {
    case 0:
      return `sha256-${digest.toString('base64')}`;
    case 1:
      return `sha256:${digest.toString('hex')}`;
    case 2:
      return `sha512-${Buffer.concat([digest, digest]).toString('base64')}`;
    default:
      return `sha256-${digest.toString('base64')}`;
  }
}

export async function writeScaleManifest(file: string, count = SCALE_FRAGMENTS): Promise<ScaleManifest> {
  const out = createWriteStream(file);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write(
    '{"version":1,"name":"bench-manifest-scale","baseUrls":["http://127.0.0.1:9/scale/","http://127.0.0.2:9/scale/"],"fragments":[',
  );
  const wholeEvery = 1000;
  const wholes = Math.floor(count / wholeEvery);
  const perFile = Math.max(1, Math.ceil((count - wholes) / RANGE_FILES));
  const offsets = new Array<number>(RANGE_FILES).fill(0);
  let bytes = 0;
  let ranges = 0;
  let lines: string[] = [];
  for (let n = 0; n < count; n++) {
    const fragment: Record<string, unknown> = {};
    if (n % wholeEvery === wholeEvery - 1) {
      fragment.path = `w/${Math.floor(n / wholeEvery)}.bin`;
      fragment.size = 4096 + (n % 65536);
    } else {
      // Ranges of one file are spread through the manifest, not listed file by file.
      const fileIndex = ranges % RANGE_FILES;
      const rangeIndex = Math.floor(ranges / RANGE_FILES);
      ranges++;
      const size = 1024 + ((n * 7919) % 16384);
      fragment.path = `r${Math.floor(fileIndex / 100)}/p${fileIndex}`;
      fragment.offset = offsets[fileIndex]!;
      fragment.size = size;
      offsets[fileIndex]! += size;
      if (rangeIndex >= perFile) throw new Error('more ranges than planned');
    }
    bytes += fragment.size as number;
    const priority = PRIORITIES[Math.floor(n / 5000) % PRIORITIES.length]!;
    if (priority !== 'normal') fragment.priority = priority;
    if (n % 50 === 0) fragment.importance = (n % 100) / 100;
    if (n % 16 === 0) fragment.integrity = integrityOf(n);
    lines.push(JSON.stringify(fragment));
    if (lines.length === 10_000 || n === count - 1) {
      await write((n < 10_000 ? '' : ',') + lines.join(','));
      lines = [];
    }
  }
  await write(']}\n');
  out.end();
  await once(out, 'finish');
  return { fragments: count, files: Math.min(RANGE_FILES, count - wholes) + wholes, bytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, count] = process.argv.slice(2);
  if (!file) throw new Error('usage: scale-manifest.js FILE [FRAGMENTS]');
  const result = await writeScaleManifest(file, count === undefined ? undefined : Number(count));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
