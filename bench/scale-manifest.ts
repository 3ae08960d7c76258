/**
 * The manifest of the `manifest-scale` scenario (issue 19): 10^6 fragments in ~36 MB, the size of
 * the issue's, written compactly as a tool emitting that many would. Most fragments are whole small
 * objects named by their path and size only (`{"path":"t/123/4567","size":5120}`); one in ten is a
 * byte range of one of 100 large files, the ranges of a file spread through the manifest;
 * priorities come in runs of 5000, as a model's layers do, most of them `normal` (the default);
 * one fragment in 50 has an importance, one in 64 an integrity, in each accepted spelling, all of
 * them different. Under two base URLs, so every fragment has two URLs. Deterministic: the same
 * bytes every time.
 *
 *   node dist/bench/scale-manifest.js /tmp/scale.json [fragments]
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SCALE_FRAGMENTS = 1_000_000;
/** Files cut into ranges: one fragment in RANGE_EVERY is a range of one of them. */
const RANGE_FILES = 100;
const RANGE_EVERY = 10;
/** Runs of 5000 fragments each, in turn. */
const PRIORITIES = [
  'critical',
  'high',
  ...new Array<'normal'>(36).fill('normal'),
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
  switch (n % 3) {
    case 0:
      return `sha256-${digest.toString('base64')}`;
    case 1:
      return `sha256:${digest.toString('hex')}`;
    default:
      return `sha512-${Buffer.concat([digest, digest]).toString('base64')}`;
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
  const offsets = new Array<number>(RANGE_FILES).fill(0);
  let bytes = 0;
  let ranges = 0;
  let wholes = 0;
  let lines: string[] = [];
  for (let n = 0; n < count; n++) {
    const fragment: Record<string, unknown> = {};
    const size = 1024 + ((n * 7919) % 8192);
    if (n % RANGE_EVERY === RANGE_EVERY - 1) {
      // Ranges of one file are spread through the manifest, not listed file by file.
      const fileIndex = ranges++ % RANGE_FILES;
      fragment.path = `big/${fileIndex}`;
      fragment.offset = offsets[fileIndex]!;
      offsets[fileIndex]! += size;
    } else {
      fragment.path = `t/${Math.floor(wholes / 10_000)}/${wholes % 10_000}`;
      wholes++;
    }
    fragment.size = size;
    bytes += size;
    const priority = PRIORITIES[Math.floor(n / 5000) % PRIORITIES.length]!;
    if (priority !== 'normal') fragment.priority = priority;
    if (n % 50 === 0) fragment.importance = (n % 100) / 100;
    if (n % 64 === 0) fragment.integrity = integrityOf(n);
    lines.push(JSON.stringify(fragment));
    if (lines.length === 10_000 || n === count - 1) {
      await write((n < 10_000 ? '' : ',') + lines.join(','));
      lines = [];
    }
  }
  await write(']}\n');
  out.end();
  await once(out, 'finish');
  return { fragments: count, files: Math.min(RANGE_FILES, ranges) + wholes, bytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, count] = process.argv.slice(2);
  if (!file) throw new Error('usage: scale-manifest.js FILE [FRAGMENTS]');
  const result = await writeScaleManifest(file, count === undefined ? undefined : Number(count));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
