import { pathProblem } from '../manifest/schema.js';
import { malformed, type TensorTable } from './table.js';

/**
 * A sharded safetensors checkpoint's index (`model.safetensors.index.json`, as transformers writes
 * it): `{ "metadata": {...}, "weight_map": { "<tensor>": "<shard file>" } }`, shard names relative
 * to the index's folder.
 */
export interface ShardIndex {
  /** The index's own path. */
  path: string;
  /** Shard paths relative to the manifest root, in first-mention order. */
  shards: string[];
  /** Tensor name → shard path relative to the manifest root. */
  weights: Map<string, string>;
}

export function isShardIndex(path: string): boolean {
  return path.endsWith('.safetensors.index.json');
}

export function parseShardIndex(path: string, text: string): ShardIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw malformed(path, 'not a shard index: not JSON', error);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw malformed(path, 'not a shard index: no "weight_map" object');
  }
  const folder = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
  const weights = new Map<string, string>();
  const shards: string[] = [];
  for (const [tensor, shard] of Object.entries(map)) {
    const shardPath = typeof shard === 'string' ? folder + shard : '';
    if (
      typeof shard !== 'string' ||
      pathProblem(shard) !== undefined ||
      pathProblem(shardPath) !== undefined
    ) {
      throw malformed(
        path,
        `"weight_map" names shard ${JSON.stringify(shard)} for "${tensor}": expected a relative path`,
      );
    }
    if (!shards.includes(shardPath)) shards.push(shardPath);
    weights.set(tensor, shardPath);
  }
  return { path, shards, weights };
}

/** Each tensor the index names must be in the shard it names: else a loader would look in vain. */
export function checkShards(index: ShardIndex, tables: ReadonlyMap<string, TensorTable>): void {
  const names = new Map(
    [...tables].map(([path, table]) => [path, new Set(table.tensors.map((t) => t.name))]),
  );
  for (const [tensor, shard] of index.weights) {
    const found = names.get(shard);
    if (found === undefined)
      throw malformed(index.path, `names shard ${shard}, which is not in the manifest`);
    if (!found.has(tensor))
      throw malformed(index.path, `says "${tensor}" is in ${shard}, whose header has no such tensor`);
  }
}
