import { elementCount, malformed, orderTensors, type TensorEntry, type TensorTable } from './table.js';

/**
 * The safetensors format (huggingface/safetensors, "Format"):
 *
 *   [ N: u64 little-endian ][ N bytes: UTF-8 JSON header ][ data ]
 *
 * The header maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }`, offsets
 * relative to the first byte of data; `__metadata__` is a string-to-string map. The JSON may be
 * padded with spaces. Parsing is pure: the caller reads the 8 bytes, then the N bytes.
 */
export const LENGTH_PREFIX_BYTES = 8;

/**
 * The longest header fragfetch reads. The reference implementation refuses past 100 MB; a real
 * checkpoint's header is well under 1 MiB even with thousands of tensors, so a larger claim is a
 * corrupt or hostile file, and must not make us allocate it.
 */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Bits per element of each dtype the format defines; sub-byte ones are packed. */
const DTYPE_BITS: Record<string, number> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  I64: 64,
  U64: 64,
  F64: 64,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
};

/** The header's length from the file's first 8 bytes, checked against the limit and the file size. */
export function headerLength(file: string, prefix: Uint8Array, fileSize: number | undefined): number {
  if (prefix.length < LENGTH_PREFIX_BYTES) {
    throw malformed(
      file,
      `not a safetensors file: ${prefix.length} bytes, shorter than the 8-byte header length`,
    );
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, LENGTH_PREFIX_BYTES).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw malformed(
      file,
      `not a safetensors file: it claims a ${length}-byte header, over the 100 MiB limit`,
    );
  }
  const n = Number(length);
  if (fileSize !== undefined && LENGTH_PREFIX_BYTES + n > fileSize) {
    throw malformed(
      file,
      `not a safetensors file: its ${n}-byte header runs past the end of the file (${fileSize} bytes)`,
    );
  }
  if (n < 2) throw malformed(file, `not a safetensors file: a ${n}-byte header cannot hold a JSON object`);
  return n;
}

/** The tensor table of a header (`header` is the N bytes after the length prefix). */
export function parseSafetensorsHeader(
  file: string,
  header: Uint8Array,
  fileSize: number | undefined,
): TensorTable {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(header));
  } catch (error) {
    throw malformed(file, 'not a safetensors file: its header is not JSON', error);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw malformed(file, 'not a safetensors file: its header is not a JSON object');
  }
  const dataStart = LENGTH_PREFIX_BYTES + header.length;
  const tensors: TensorEntry[] = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    tensors.push(tensorEntry(file, name, value, dataStart));
  }
  return {
    format: 'safetensors',
    file,
    dataStart,
    tensors: orderTensors(file, tensors, dataStart, fileSize),
    fileSize,
  };
}

function tensorEntry(file: string, name: string, value: unknown, dataStart: number): TensorEntry {
  const bad = (problem: string) => malformed(file, `tensor "${name}": ${problem}`);
  if (typeof value !== 'object' || value === null) throw bad('expected an object');
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw bad('"dtype" is not a string');
  if (!Array.isArray(shape) || !shape.every(isByteCount)) throw bad('"shape" is not a list of sizes');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isByteCount)) {
    throw bad('"data_offsets" is not [begin, end]');
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw bad(`"data_offsets" [${begin}, ${end}] are out of order`);
  const bits = DTYPE_BITS[dtype];
  const dims = shape as number[];
  if (bits !== undefined) {
    const expected = Math.ceil((elementCount(file, name, dims) * bits) / 8);
    if (end - begin !== expected) {
      throw bad(`${end - begin} bytes for ${dtype}[${dims.join(', ')}], which takes ${expected}`);
    }
  }
  if (!Number.isSafeInteger(dataStart + end)) throw bad('"data_offsets" are too large');
  return { name, dtype, shape: dims, start: dataStart + begin, end: dataStart + end };
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
