import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** Read block of every streamed copy and hash: memory stays at one block per file in flight. */
export const READ_BLOCK = 1024 * 1024;

/** O_NOFOLLOW where the platform has it: a file swapped for a link after its lstat is not read. */
export const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/**
 * The base64 digest of bytes `[start, start + size)` of `file`, read block by block so memory stays
 * flat; or undefined when the file holds fewer bytes than that (it was truncated under us).
 */
export async function hashRange(
  file: string,
  algorithm: string,
  start: number,
  size: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const hash = createHash(algorithm);
  const handle = await open(file, constants.O_RDONLY | NO_FOLLOW);
  try {
    const buffer = Buffer.allocUnsafe(Math.min(READ_BLOCK, Math.max(size, 1)));
    let read = 0;
    while (read < size) {
      signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - read), start + read);
      if (bytesRead === 0) return undefined;
      hash.update(buffer.subarray(0, bytesRead));
      read += bytesRead;
    }
    return hash.digest('base64');
  } finally {
    await handle.close();
  }
}

/** The base64 sha256 digest named by an integrity string, if it is a sha256 one. */
export function sha256Of(integrity: string): string | undefined {
  const match = /^sha256-([A-Za-z0-9+/]+={0,2})$/.exec(integrity.trim().split(/\s+/)[0] ?? '');
  return match?.[1];
}
