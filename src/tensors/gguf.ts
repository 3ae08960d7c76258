import type { GGUFParseOutput } from '@huggingface/gguf';
import { elementCount, malformed, orderTensors, type TensorEntry, type TensorTable } from './table.js';

/**
 * GGUF (ggml's docs/gguf.md): magic "GGUF", a version, tensor and key/value counts, the key/values,
 * then one info per tensor (name, dims, ggml type, offset relative to the data section). The data
 * section starts at the end of the infos rounded up to `general.alignment` (default 32).
 *
 * The header is read by Hugging Face's `@huggingface/gguf`, which bounds every count and string
 * against crafted files; this module checks what it does not: the version, and that the tensors'
 * bytes lie inside the file without overlapping.
 */

/** Versions whose layout fragfetch knows: v1 (2023, 32-bit counts) is long gone from the hubs. */
const VERSIONS = new Set([2, 3]);

/** ggml's `type_size` and `blck_size` per type id (ggml.c's type_traits), for tensor byte sizes. */
const GGML_TYPES: Record<number, { name: string; blockBytes: number; blockElements: number }> = {};
for (const [id, name, blockBytes, blockElements] of [
  [0, 'F32', 4, 1],
  [1, 'F16', 2, 1],
  [2, 'Q4_0', 18, 32],
  [3, 'Q4_1', 20, 32],
  [6, 'Q5_0', 22, 32],
  [7, 'Q5_1', 24, 32],
  [8, 'Q8_0', 34, 32],
  [9, 'Q8_1', 36, 32],
  [10, 'Q2_K', 84, 256],
  [11, 'Q3_K', 110, 256],
  [12, 'Q4_K', 144, 256],
  [13, 'Q5_K', 176, 256],
  [14, 'Q6_K', 210, 256],
  [15, 'Q8_K', 292, 256],
  [16, 'IQ2_XXS', 66, 256],
  [17, 'IQ2_XS', 74, 256],
  [18, 'IQ3_XXS', 98, 256],
  [19, 'IQ1_S', 50, 256],
  [20, 'IQ4_NL', 18, 32],
  [21, 'IQ3_S', 110, 256],
  [22, 'IQ2_S', 82, 256],
  [23, 'IQ4_XS', 136, 256],
  [24, 'I8', 1, 1],
  [25, 'I16', 2, 1],
  [26, 'I32', 4, 1],
  [27, 'I64', 8, 1],
  [28, 'F64', 8, 1],
  [29, 'IQ1_M', 56, 256],
  [30, 'BF16', 2, 1],
  [34, 'TQ1_0', 54, 256],
  [35, 'TQ2_0', 66, 256],
  [39, 'MXFP4', 17, 32],
] as const) {
  GGML_TYPES[id] = { name, blockBytes, blockElements };
}

/** The tensor table of a parsed GGUF header; `fileSize` bounds the last tensor when known. */
export function ggufTable(file: string, parsed: GGUFParseOutput, fileSize: number | undefined): TensorTable {
  const version = Number(parsed.metadata.version);
  if (!VERSIONS.has(version)) {
    throw malformed(file, `unsupported GGUF version ${version}: fragfetch reads versions 2 and 3`);
  }
  const dataStart = Number(parsed.tensorDataOffset);
  if (fileSize !== undefined && dataStart > fileSize) {
    throw malformed(
      file,
      `its GGUF header ends at byte ${dataStart}, past the end of the file (${fileSize} bytes)`,
    );
  }
  const tensors = parsed.tensorInfos.map((info): TensorEntry => {
    const start = dataStart + Number(info.offset);
    if (!Number.isSafeInteger(start))
      throw malformed(file, `tensor "${info.name}": offset ${info.offset} is too large`);
    const shape = info.shape.map(Number);
    const type = GGML_TYPES[info.dtype];
    if (type === undefined)
      return { name: info.name, dtype: `type ${info.dtype}`, shape, start, end: undefined };
    const elements = elementCount(file, info.name, shape);
    if (elements % type.blockElements !== 0) {
      throw malformed(
        file,
        `tensor "${info.name}": ${elements} elements are not whole ${type.name} blocks of ${type.blockElements}`,
      );
    }
    const end = start + (elements / type.blockElements) * type.blockBytes;
    return { name: info.name, dtype: type.name, shape, start, end };
  });
  return {
    format: 'gguf',
    file,
    dataStart,
    tensors: orderTensors(file, tensors, dataStart, fileSize),
    fileSize,
  };
}

/**
 * The parser's own errors are plain `Error`s, and a header cut short surfaces as the `RangeError` of
 * a read past its buffer: both become one line naming the file.
 */
export function ggufError(file: string, error: unknown): Error {
  if (error instanceof RangeError) {
    return malformed(file, 'not a valid GGUF file: its header runs past the end of the file', error);
  }
  const message = error instanceof Error ? error.message : String(error);
  const text = message.startsWith('not a valid gguf file: ') ? message.slice(23) : message;
  return malformed(file, `not a valid GGUF file: ${text}`, error);
}
