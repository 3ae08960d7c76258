import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytes, gguf, GGUF_TYPE, safetensors } from './writers.js';

/**
 * A small model folder as a hub serves one: a sharded safetensors checkpoint with its index, a
 * config, and a GGUF quantisation beside it. Several dtypes, padding, a zero-size tensor, layers.
 */
export function modelFiles(): Record<string, Buffer> {
  const shard1 = safetensors(
    [
      { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [8, 4], data: bytes(64, 1) },
      {
        name: 'model.layers.0.self_attn.q_proj.weight',
        dtype: 'F16',
        shape: [4, 4],
        data: bytes(32, 2),
        gapAfter: 3,
      },
      { name: 'model.layers.0.input_layernorm.weight', dtype: 'F32', shape: [4], data: bytes(16, 3) },
      { name: 'model.layers.1.self_attn.q_proj.weight', dtype: 'F16', shape: [4, 4], data: bytes(32, 4) },
    ],
    { metadata: { format: 'pt' } },
  );
  const shard2 = safetensors([
    { name: 'model.layers.1.mlp.up_proj.bias', dtype: 'F32', shape: [4], data: bytes(16, 5) },
    { name: 'model.layers.2.self_attn.q_proj.weight', dtype: 'I8', shape: [4, 4], data: bytes(16, 6) },
    { name: 'model.layers.2.rotary.inv_freq', dtype: 'F32', shape: [0], data: Buffer.alloc(0) },
    { name: 'model.norm.weight', dtype: 'F32', shape: [4], data: bytes(16, 7) },
    { name: 'lm_head.weight', dtype: 'U8', shape: [8, 4], data: bytes(32, 8) },
  ]);
  const weightMap: Record<string, string> = {};
  for (const name of ['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight']) {
    weightMap[name] = 'model-00001-of-00002.safetensors';
  }
  weightMap['model.layers.0.input_layernorm.weight'] = 'model-00001-of-00002.safetensors';
  weightMap['model.layers.1.self_attn.q_proj.weight'] = 'model-00001-of-00002.safetensors';
  for (const name of [
    'model.layers.1.mlp.up_proj.bias',
    'model.layers.2.self_attn.q_proj.weight',
    'lm_head.weight',
  ]) {
    weightMap[name] = 'model-00002-of-00002.safetensors';
  }
  weightMap['model.layers.2.rotary.inv_freq'] = 'model-00002-of-00002.safetensors';
  weightMap['model.norm.weight'] = 'model-00002-of-00002.safetensors';
  const quantised = gguf(
    [
      { name: 'token_embd.weight', shape: [32, 2], type: GGUF_TYPE.Q8_0, data: bytes(68, 9) },
      { name: 'blk.0.attn_q.weight', shape: [32, 1], type: GGUF_TYPE.Q4_0, data: bytes(18, 10) },
      { name: 'blk.1.attn_q.weight', shape: [4], type: GGUF_TYPE.F16, data: bytes(8, 11) },
      { name: 'output.weight', shape: [4], type: GGUF_TYPE.F32, data: bytes(16, 12) },
    ],
    { kv: { 'general.name': { type: 'string', value: 'tiny' } } },
  );
  return {
    'config.json': Buffer.from('{"model_type":"llama","num_hidden_layers":3}\n'),
    'model-00001-of-00002.safetensors': shard1,
    'model-00002-of-00002.safetensors': shard2,
    'model.safetensors.index.json': Buffer.from(
      JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }, null, 2),
    ),
    'gguf/tiny-Q8_0.gguf': quantised,
  };
}

export async function writeModel(dir: string, files: Record<string, Buffer> = modelFiles()): Promise<void> {
  for (const [path, data] of Object.entries(files)) {
    await mkdir(join(dir, ...path.split('/').slice(0, -1)), { recursive: true });
    await writeFile(join(dir, ...path.split('/')), data);
  }
}
