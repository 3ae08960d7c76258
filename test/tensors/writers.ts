/**
 * Writers of safetensors and GGUF files, from the formats' specifications (huggingface/safetensors
 * README "Format"; ggml docs/gguf.md), so the tests read files no fragfetch code wrote.
 */

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: number[];
  data: Buffer;
  /** Bytes left after this tensor's data that no tensor claims. */
  gapAfter?: number;
}

/** Bytes whose values depend on `seed` and the position, so that a misplaced byte is seen. */
export function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 131 + seed * 17 + (i >> 8)) & 0xff;
  return out;
}

/**
 * A safetensors file. The JSON lists tensors in the order given by `jsonOrder` (default: reversed,
 * to show that file order comes from the offsets), padded with spaces to a multiple of 8 as the
 * reference writer does.
 */
export function safetensors(
  tensors: SafetensorsTensor[],
  options: { metadata?: Record<string, string>; jsonOrder?: string[]; tail?: number } = {},
): Buffer {
  const entries: Record<string, unknown> = {};
  if (options.metadata) entries['__metadata__'] = options.metadata;
  const offsets = new Map<string, [number, number]>();
  let at = 0;
  for (const tensor of tensors) {
    offsets.set(tensor.name, [at, at + tensor.data.length]);
    at += tensor.data.length + (tensor.gapAfter ?? 0);
  }
  const order = options.jsonOrder ?? tensors.map((t) => t.name).reverse();
  for (const name of order) {
    const tensor = tensors.find((t) => t.name === name) as SafetensorsTensor;
    entries[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: offsets.get(name) };
  }
  let json = JSON.stringify(entries);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  return withHeader(Buffer.from(json), [
    ...tensors.flatMap((t) => [t.data, Buffer.alloc(t.gapAfter ?? 0, 0xee)]),
    Buffer.alloc(options.tail ?? 0, 0xdd),
  ]);
}

/** A safetensors file with a header written by hand (for malformed variants). */
export function withHeader(header: Buffer, data: Buffer[] = [], claimedLength?: bigint): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(claimedLength ?? BigInt(header.length));
  return Buffer.concat([prefix, header, ...data]);
}

export const GGUF_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, I8: 24, BF16: 30 } as const;

export interface GgufTensor {
  name: string;
  /** ggml order: the fastest-varying dimension first. */
  shape: number[];
  type: number;
  data: Buffer;
}

export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'string'; value: string }
  | { type: 'strings'; value: string[] };

/** A GGUF file (little-endian): header, key/values, tensor infos, padding, aligned tensor data. */
export function gguf(
  tensors: GgufTensor[],
  options: { version?: number; alignment?: number; kv?: Record<string, GgufValue>; magic?: string } = {},
): Buffer {
  const alignment = options.alignment ?? 32;
  const kv: Record<string, GgufValue> = { 'general.architecture': { type: 'string', value: 'llama' } };
  Object.assign(kv, options.kv);
  if (options.alignment !== undefined) kv['general.alignment'] = { type: 'u32', value: alignment };
  // Version 1 wrote counts and lengths as u32, later versions as u64.
  const size = options.version === 1 ? u32 : u64;
  const str = (text: string) => {
    const bytes = Buffer.from(text);
    return Buffer.concat([size(bytes.length), bytes]);
  };
  const parts: Buffer[] = [Buffer.from(options.magic ?? 'GGUF', 'latin1'), u32(options.version ?? 3)];
  parts.push(size(tensors.length), size(Object.keys(kv).length));
  for (const [key, value] of Object.entries(kv)) parts.push(str(key), ...ggufValue(value, str, size));
  let offset = 0;
  const offsets: number[] = [];
  for (const tensor of tensors) {
    offsets.push(offset);
    parts.push(str(tensor.name), u32(tensor.shape.length), ...tensor.shape.map(size), u32(tensor.type));
    parts.push(u64(offset));
    offset = pad(offset + tensor.data.length, alignment);
  }
  const header = Buffer.concat(parts);
  const out: Buffer[] = [header, Buffer.alloc(pad(header.length, alignment) - header.length)];
  tensors.forEach((tensor, i) => {
    out.push(tensor.data);
    const end = (offsets[i] as number) + tensor.data.length;
    if (i < tensors.length - 1) out.push(Buffer.alloc(pad(end, alignment) - end, 0xcc));
  });
  return Buffer.concat(out);
}

function ggufValue(value: GgufValue, str: (text: string) => Buffer, size: (n: number) => Buffer): Buffer[] {
  switch (value.type) {
    case 'u32':
      return [u32(4), u32(value.value)];
    case 'f32': {
      const b = Buffer.alloc(4);
      b.writeFloatLE(value.value);
      return [u32(6), b];
    }
    case 'string':
      return [u32(8), str(value.value)];
    case 'strings':
      return [u32(9), u32(8), size(value.value.length), Buffer.concat(value.value.map(str))];
  }
}

function pad(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
