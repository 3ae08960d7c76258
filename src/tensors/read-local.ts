import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { FragfetchError } from '../errors.js';
import { cannotRead } from '../manifest/walk.js';
import { ggufError, ggufTable } from './gguf.js';
import type { TensorRange } from './layout.js';
import { headerLength, LENGTH_PREFIX_BYTES, parseSafetensorsHeader } from './safetensors.js';
import type { TensorTable } from './table.js';

export type TensorFormat = TensorTable['format'];

/** Which weights format a path is, by its name, as the hubs and loaders tell them apart. */
export function formatOf(path: string): TensorFormat | undefined {
  if (path.endsWith('.safetensors')) return 'safetensors';
  if (path.endsWith('.gguf')) return 'gguf';
  return undefined;
}

/** Reads the header of a local weights file: only the header's bytes, whatever the file's size. */
export async function readLocalTable(
  file: string,
  shown: string,
  format: TensorFormat,
): Promise<TensorTable> {
  if (format === 'gguf') return readLocalGguf(file, shown);
  const handle = await openFile(file, shown);
  try {
    const { size } = await handle.stat();
    const prefix = await readAt(handle, 0, LENGTH_PREFIX_BYTES);
    const length = headerLength(shown, prefix, size);
    return parseSafetensorsHeader(shown, await readAt(handle, LENGTH_PREFIX_BYTES, length), size);
  } finally {
    await handle.close();
  }
}

async function readLocalGguf(file: string, shown: string): Promise<TensorTable> {
  const handle = await openFile(file, shown);
  const { size } = await handle.stat().finally(() => handle.close());
  // Loaded here, not at the top: only `--tensors` with a GGUF file needs it.
  const { gguf } = await import('@huggingface/gguf');
  let parsed;
  try {
    parsed = await gguf(file, { allowLocalFile: true });
  } catch (error) {
    throw ggufError(shown, error);
  }
  return ggufTable(shown, parsed, size);
}

/**
 * The sha256 integrity of each range, in one pass over the file: the ranges cover it in order
 * (layout.ts), so each chunk read is split where one range ends and the next begins.
 */
export async function hashRanges(
  file: string,
  shown: string,
  ranges: readonly TensorRange[],
): Promise<string[]> {
  const integrities: string[] = [];
  let index = 0;
  let hash = createHash('sha256');
  let left = ranges[0]?.size ?? 0;
  const finishEmpty = () => {
    while (left === 0 && index < ranges.length) {
      integrities.push(`sha256-${hash.digest('base64')}`);
      hash = createHash('sha256');
      left = ranges[++index]?.size ?? 0;
    }
  };
  try {
    finishEmpty();
    for await (const chunk of createReadStream(file)) {
      let buffer = chunk as Buffer;
      while (buffer.length > 0 && index < ranges.length) {
        const take = Math.min(left, buffer.length);
        hash.update(buffer.subarray(0, take));
        buffer = buffer.subarray(take);
        left -= take;
        finishEmpty();
      }
    }
  } catch (error) {
    throw cannotRead(shown, error);
  }
  if (index < ranges.length) {
    throw new FragfetchError('EUSAGE', `cannot read ${shown}: it became shorter while it was read`);
  }
  return integrities;
}

async function openFile(file: string, shown: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (error) {
    throw cannotRead(shown, error);
  }
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}
