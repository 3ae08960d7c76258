import { FragfetchError } from '../errors.js';

/** One tensor of a weights file, at absolute byte offsets of that file. */
export interface TensorEntry {
  name: string;
  /** As the format names it: `F16`, `BF16`, `Q4_K`, … */
  dtype: string;
  shape: number[];
  start: number;
  /** Exclusive; undefined when the dtype is one whose byte size fragfetch does not know. */
  end: number | undefined;
}

/** What a weights file's header says: where its tensors lie. */
export interface TensorTable {
  format: 'safetensors' | 'gguf';
  /** The file as the user named it, for messages. */
  file: string;
  /** Bytes before the first tensor's data may start: the header and its padding. */
  dataStart: number;
  /** In file order (by start, then by name for zero-size tensors at the same offset). */
  tensors: TensorEntry[];
  /** The whole file's length, when known. */
  fileSize: number | undefined;
}

export function malformed(file: string, problem: string, cause?: unknown): FragfetchError {
  return new FragfetchError('EMANIFEST', `${file}: ${problem}`, cause === undefined ? {} : { cause });
}

/**
 * Sorts the tensors into file order and checks what both formats promise: every tensor starts at or
 * after the data section, none overlaps the next, no name is listed twice, and the last ends inside
 * the file. Throws the
 * first problem as one line naming the file.
 */
export function orderTensors(
  file: string,
  tensors: TensorEntry[],
  dataStart: number,
  fileSize: number | undefined,
): TensorEntry[] {
  const sorted = [...tensors].sort(
    (a, b) => a.start - b.start || (a.end ?? a.start) - (b.end ?? b.start) || (a.name < b.name ? -1 : 1),
  );
  const names = new Set<string>();
  let previous: TensorEntry | undefined;
  for (const tensor of sorted) {
    if (names.has(tensor.name)) throw malformed(file, `tensor "${tensor.name}" is listed twice`);
    names.add(tensor.name);
    if (tensor.start < dataStart) {
      throw malformed(file, `tensor "${tensor.name}" starts at ${tensor.start}, inside the header`);
    }
    if (previous?.end !== undefined && tensor.start < previous.end) {
      throw malformed(
        file,
        `tensors "${previous.name}" [${previous.start}, ${previous.end}) and "${tensor.name}" ` +
          `[${tensor.start}, ${tensor.end ?? '?'}) overlap`,
      );
    }
    previous = tensor;
  }
  const last = sorted.at(-1);
  const lastEnd = last === undefined ? dataStart : (last.end ?? last.start);
  if (fileSize !== undefined && lastEnd > fileSize) {
    const what = last === undefined ? 'the header' : `tensor "${last.name}"`;
    throw malformed(file, `${what} ends at byte ${lastEnd}, past the end of the file (${fileSize} bytes)`);
  }
  return sorted;
}

/** The number of elements of a shape, refused when it is not an exact integer in a double. */
export function elementCount(file: string, name: string, shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  if (!Number.isSafeInteger(count)) throw malformed(file, `tensor "${name}" has too many elements`);
  return count;
}
