import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFragfetchError } from '../../src/errors.js';
import { layoutTensors } from '../../src/tensors/layout.js';
import { hashRanges, readLocalTable } from '../../src/tensors/read-local.js';
import { headerLength, parseSafetensorsHeader } from '../../src/tensors/safetensors.js';
import type { TensorTable } from '../../src/tensors/table.js';
import { bytes, gguf, GGUF_TYPE, safetensors, withHeader } from './writers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fragfetch-tensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tableOf(name: string, data: Buffer): Promise<TensorTable> {
  await writeFile(join(dir, name), data);
  return readLocalTable(join(dir, name), name, name.endsWith('.gguf') ? 'gguf' : 'safetensors');
}

async function refusal(name: string, data: Buffer): Promise<string> {
  const error = await tableOf(name, data).catch((e: unknown) => e);
  expect(isFragfetchError(error, 'EMANIFEST')).toBe(true);
  const message = (error as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

function sri(data: Buffer): string {
  return `sha256-${createHash('sha256').update(data).digest('base64')}`;
}

describe('safetensors', () => {
  const embed = bytes(4 * 6 * 2, 1);
  const norm = bytes(6 * 4, 2);
  const flag = bytes(3, 3);
  const file = safetensors(
    [
      { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [4, 6], data: embed },
      { name: 'model.norm.weight', dtype: 'F32', shape: [6], data: norm, gapAfter: 5 },
      { name: 'empty', dtype: 'F16', shape: [0, 3], data: Buffer.alloc(0) },
      { name: 'flags', dtype: 'BOOL', shape: [3], data: flag },
    ],
    { metadata: { format: 'pt' }, tail: 2 },
  );

  it('reads tensors of several dtypes in file order, with absolute offsets', async () => {
    const table = await tableOf('model.safetensors', file);
    const dataStart = 8 + file.readUInt32LE(0);
    expect(table.dataStart).toBe(dataStart);
    expect(table.fileSize).toBe(file.length);
    expect(table.tensors).toEqual([
      {
        name: 'model.embed_tokens.weight',
        dtype: 'BF16',
        shape: [4, 6],
        start: dataStart,
        end: dataStart + 48,
      },
      { name: 'model.norm.weight', dtype: 'F32', shape: [6], start: dataStart + 48, end: dataStart + 72 },
      { name: 'empty', dtype: 'F16', shape: [0, 3], start: dataStart + 77, end: dataStart + 77 },
      { name: 'flags', dtype: 'BOOL', shape: [3], start: dataStart + 77, end: dataStart + 80 },
    ]);
  });

  it('lays the file out as fragments that cover it exactly, gaps going to the fragment before', async () => {
    const table = await tableOf('model.safetensors', file);
    const ranges = layoutTensors('m.safetensors', table, file.length);
    const d = table.dataStart;
    expect(ranges.map((r) => [r.id, r.offset, r.size])).toEqual([
      ['m.safetensors:__header__', 0, d],
      ['m.safetensors:model.embed_tokens.weight', d, 48],
      ['m.safetensors:model.norm.weight', d + 48, 29],
      ['m.safetensors:empty', d + 77, 0],
      ['m.safetensors:flags', d + 77, 5],
    ]);
    expect(Buffer.concat(ranges.map((r) => file.subarray(r.offset, r.offset + r.size)))).toEqual(file);
    const integrities = await hashRanges(join(dir, 'model.safetensors'), 'model.safetensors', ranges);
    expect(integrities).toEqual(ranges.map((r) => sri(file.subarray(r.offset, r.offset + r.size))));
    expect(integrities[2]).toBe(sri(Buffer.concat([norm, Buffer.alloc(5, 0xee)])));
  });

  it('refuses malformed headers with one line naming the file', async () => {
    const ok = Buffer.from('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}');
    expect(await refusal('short.safetensors', Buffer.from([1, 2, 3]))).toBe(
      'short.safetensors: not a safetensors file: 3 bytes, shorter than the 8-byte header length',
    );
    const past = withHeader(ok, [Buffer.alloc(2)], 4000n);
    expect(await refusal('past.safetensors', past)).toBe(
      `past.safetensors: not a safetensors file: its 4000-byte header runs past the end of the file (${past.length} bytes)`,
    );
    expect(await refusal('huge.safetensors', withHeader(ok, [], 1n << 30n))).toBe(
      'huge.safetensors: not a safetensors file: it claims a 1073741824-byte header, over the 100 MiB limit',
    );
    expect(await refusal('text.safetensors', withHeader(Buffer.from('{"a": nope}')))).toBe(
      'text.safetensors: not a safetensors file: its header is not JSON',
    );
    expect(await refusal('array.safetensors', withHeader(Buffer.from('[1, 2]')))).toBe(
      'array.safetensors: not a safetensors file: its header is not a JSON object',
    );
    const header = (tensors: Record<string, unknown>) =>
      withHeader(Buffer.from(JSON.stringify(tensors)), [bytes(8, 0)]);
    expect(
      await refusal('order.safetensors', header({ a: { dtype: 'U8', shape: [2], data_offsets: [4, 2] } })),
    ).toBe('order.safetensors: tensor "a": "data_offsets" [4, 2] are out of order');
    const overlap = header({
      a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
      b: { dtype: 'U8', shape: [4], data_offsets: [2, 6] },
    });
    expect(await refusal('overlap.safetensors', overlap)).toMatch(
      /^overlap\.safetensors: tensors "a" \[\d+, \d+\) and "b" \[\d+, \d+\) overlap$/,
    );
    expect(
      await refusal('size.safetensors', header({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } })),
    ).toBe('size.safetensors: tensor "a": 4 bytes for F32[2], which takes 8');
    const beyond = await refusal(
      'beyond.safetensors',
      header({ a: { dtype: 'U8', shape: [9], data_offsets: [0, 9] } }),
    );
    expect(beyond).toMatch(
      /^beyond\.safetensors: tensor "a" ends at byte \d+, past the end of the file \(\d+ bytes\)$/,
    );
    expect(
      await refusal('shape.safetensors', header({ a: { dtype: 'U8', shape: [-1], data_offsets: [0, 1] } })),
    ).toBe('shape.safetensors: tensor "a": "shape" is not a list of sizes');
  });

  it('checks the length prefix without reading the rest (the remote path)', () => {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(100n);
    expect(headerLength('x', prefix, undefined)).toBe(100);
    expect(() => parseSafetensorsHeader('x', Buffer.from('{}'), undefined)).not.toThrow();
  });
});

describe('GGUF (read by @huggingface/gguf)', () => {
  const tensors = [
    { name: 'token_embd.weight', shape: [32, 4], type: GGUF_TYPE.Q8_0, data: bytes(4 * 34, 4) },
    { name: 'blk.0.attn_norm.weight', shape: [5], type: GGUF_TYPE.F32, data: bytes(20, 5) },
    { name: 'blk.0.ffn_up.weight', shape: [256, 2], type: GGUF_TYPE.Q4_K, data: bytes(2 * 144, 6) },
    { name: 'blk.1.bias', shape: [3], type: GGUF_TYPE.F16, data: bytes(6, 7) },
    { name: 'output.weight', shape: [7], type: GGUF_TYPE.BF16, data: bytes(14, 8) },
  ];

  for (const version of [2, 3]) {
    it(`reads a v${version} file: offsets after the aligned header, sizes from the ggml types`, async () => {
      const file = gguf(tensors, {
        version,
        alignment: 64,
        kv: { 'tokenizer.ggml.tokens': { type: 'strings', value: ['<s>', 'a', 'b'] } },
      });
      const table = await tableOf(`v${version}.gguf`, file);
      expect(table.dataStart % 64).toBe(0);
      expect(
        table.tensors.map((t) => [t.name, t.dtype, t.start - table.dataStart, (t.end ?? 0) - t.start]),
      ).toEqual([
        ['token_embd.weight', 'Q8_0', 0, 136],
        ['blk.0.attn_norm.weight', 'F32', 192, 20],
        ['blk.0.ffn_up.weight', 'Q4_K', 256, 288],
        ['blk.1.bias', 'F16', 576, 6],
        ['output.weight', 'BF16', 640, 14],
      ]);
      const ranges = layoutTensors('m.gguf', table, file.length);
      expect(Buffer.concat(ranges.map((r) => file.subarray(r.offset, r.offset + r.size)))).toEqual(file);
      expect(file.subarray(ranges[3]!.offset, ranges[3]!.offset + 288)).toEqual(tensors[2]!.data);
    });
  }

  it('a ggml type it does not know gives the tensor the bytes up to the next one', async () => {
    const file = gguf([
      { name: 'a', shape: [8], type: 99, data: bytes(40, 1) },
      { name: 'b', shape: [2], type: GGUF_TYPE.F32, data: bytes(8, 2) },
    ]);
    const table = await tableOf('new-type.gguf', file);
    expect(table.tensors.map((t) => [t.name, t.dtype, t.end === undefined])).toEqual([
      ['a', 'type 99', true],
      ['b', 'F32', false],
    ]);
    const ranges = layoutTensors('n.gguf', table, file.length);
    expect(ranges.map((r) => [r.id, r.size])).toEqual([
      ['n.gguf:__header__', table.dataStart],
      ['n.gguf:a', 64],
      ['n.gguf:b', 8],
    ]);
  });

  it('uses the default alignment of 32 when general.alignment is absent', async () => {
    const table = await tableOf('a32.gguf', gguf(tensors));
    expect(table.dataStart % 32).toBe(0);
    expect(table.tensors[1]!.start - table.dataStart).toBe(160);
  });

  it('refuses malformed files with one line naming the file', async () => {
    expect(await refusal('magic.gguf', gguf(tensors, { magic: 'GGUG' }))).toBe(
      'magic.gguf: not a valid GGUF file: not starting with GGUF magic number',
    );
    expect(await refusal('v1.gguf', gguf(tensors, { version: 1 }))).toBe(
      'v1.gguf: unsupported GGUF version 1: fragfetch reads versions 2 and 3',
    );
    expect(await refusal('v4.gguf', gguf(tensors, { version: 4 }))).toBe(
      'v4.gguf: not a valid GGUF file: unsupported version "4"',
    );
    const full = gguf(tensors);
    // The parser reads past the end of a file as zeros: the file size is what catches a cut header.
    expect(await refusal('cut.gguf', full.subarray(0, 60))).toMatch(
      /^cut\.gguf: its GGUF header ends at byte \d+, past the end of the file \(60 bytes\)$/,
    );
    expect(await refusal('short.gguf', full.subarray(0, full.length - 3))).toBe(
      'short.gguf: tensor "output.weight" ends at byte ' +
        `${full.length}, past the end of the file (${full.length - 3} bytes)`,
    );
    const overlapping = gguf([tensors[1]!, { ...tensors[1]!, name: 'b', data: bytes(40, 1), shape: [10] }]);
    // The second tensor's data (40 bytes) runs into the next aligned slot: rewrite its offset to 0.
    const name = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x62]);
    const at = overlapping.indexOf(name) + name.length + 4 + 8 + 4;
    overlapping.writeBigUInt64LE(0n, at);
    expect(await refusal('overlap.gguf', overlapping)).toMatch(/^overlap\.gguf: tensors .* overlap$/);
    const blocks = gguf([{ name: 'q', shape: [33], type: GGUF_TYPE.Q4_0, data: bytes(36, 1) }]);
    expect(await refusal('blocks.gguf', blocks)).toBe(
      'blocks.gguf: tensor "q": 33 elements are not whole Q4_0 blocks of 32',
    );
  });
});
