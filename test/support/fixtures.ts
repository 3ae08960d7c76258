/**
 * Deterministic test data. Bytes come from AES-128-CTR over zeros keyed by the seed: native speed
 * (GiB/s), reproducible anywhere, and a file written by `writeSeededFile` holds exactly the bytes
 * `randomBytesSeeded` returns for the same size and seed.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const BLOCK = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(BLOCK);

export type Seed = number | string;

export type SriAlgorithm = 'sha256' | 'sha384' | 'sha512';

export interface SeededFile {
  size: number;
  sha256Hex: string;
  /** `sha256-<base64>` */
  sri: string;
}

function keystream(seed: Seed) {
  const material = createHash('sha256').update(`fragfetch-fixture:${seed}`).digest();
  return createCipheriv('aes-128-ctr', material.subarray(0, 16), material.subarray(16, 32));
}

export function randomBytesSeeded(size: number, seed: Seed): Buffer {
  const cipher = keystream(seed);
  const out = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += BLOCK) {
    cipher.update(ZEROS.subarray(0, Math.min(BLOCK, size - at))).copy(out, at);
  }
  return out;
}

export async function writeSeededFile(file: string, size: number, seed: Seed): Promise<SeededFile> {
  await mkdir(path.dirname(file), { recursive: true });
  const cipher = keystream(seed);
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  const failed = once(out, 'error').then(([err]) => {
    throw err;
  });
  failed.catch(() => {}); // observed below through the races
  for (let at = 0; at < size; at += BLOCK) {
    const block = cipher.update(ZEROS.subarray(0, Math.min(BLOCK, size - at)));
    hash.update(block);
    if (!out.write(block)) await Promise.race([once(out, 'drain'), failed]);
  }
  out.end();
  await Promise.race([once(out, 'close'), failed]);
  const digest = hash.digest();
  return { size, sha256Hex: digest.toString('hex'), sri: `sha256-${digest.toString('base64')}` };
}

export function sriOf(data: Buffer | Uint8Array, algo: SriAlgorithm = 'sha256'): string {
  return `${algo}-${createHash(algo).update(data).digest('base64')}`;
}

export function sha256Hex(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fresh, empty directory under the OS temp dir; the caller removes it. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix.endsWith('-') ? prefix : `${prefix}-`));
}
