import type { TensorTable } from './table.js';

/** The id suffix of the fragment that holds a file's header. */
export const HEADER_ID = '__header__';

/** One byte range of a weights file, before integrity and priority are known. */
export interface TensorRange {
  id: string;
  /** The tensor's name, or undefined for the header. */
  tensor: string | undefined;
  offset: number;
  size: number;
}

/**
 * Cuts a weights file into fragments that cover it exactly, so that `mirror` reassembles it byte
 * for byte: the header, then one per tensor in file order. A gap (alignment padding, bytes no
 * tensor claims) belongs to the fragment before it:
 *
 *   [ header | pad ][ tensor a | pad ][ tensor b ][ c (0 bytes) ][ tensor d | tail ]
 *
 * so a tensor's fragment starts where its bytes start, and a loader can read it from the front.
 */
export function layoutTensors(path: string, table: TensorTable, fileSize: number): TensorRange[] {
  const { tensors } = table;
  const firstStart = tensors[0]?.start ?? fileSize;
  const ranges: TensorRange[] = [
    { id: `${path}:${HEADER_ID}`, tensor: undefined, offset: 0, size: firstStart },
  ];
  tensors.forEach((tensor, i) => {
    const next = tensors[i + 1]?.start ?? fileSize;
    ranges.push({
      id: `${path}:${tensor.name}`,
      tensor: tensor.name,
      offset: tensor.start,
      size: next - tensor.start,
    });
  });
  return ranges;
}
