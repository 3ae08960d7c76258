import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FragfetchError } from '../errors.js';
import { cannotRead } from '../manifest/walk.js';
import { formatOf, readLocalTable, type TensorFormat } from './read-local.js';
import { checkShards, isShardIndex, parseShardIndex, type ShardIndex } from './shard-index.js';
import type { TensorTable } from './table.js';

/**
 * The tensor tables of the weights files among `paths` (relative to `root`): `*.safetensors`,
 * `*.gguf`, and every shard a `*.safetensors.index.json` names, checked against that index.
 */
export async function readTables(root: string, paths: readonly string[]): Promise<Map<string, TensorTable>> {
  const formats = new Map<string, TensorFormat>();
  for (const path of paths) {
    const format = formatOf(path);
    if (format !== undefined) formats.set(path, format);
  }
  const indexes: ShardIndex[] = [];
  for (const path of paths.filter(isShardIndex)) {
    const index = parseShardIndex(path, await readText(join(root, ...path.split('/')), path));
    for (const shard of index.shards) {
      if (!paths.includes(shard)) {
        throw new FragfetchError('EMANIFEST', `${path}: names shard ${shard}, which is not in the folder`);
      }
      formats.set(shard, 'safetensors');
    }
    indexes.push(index);
  }
  const tables = new Map<string, TensorTable>();
  for (const path of paths) {
    const format = formats.get(path);
    if (format !== undefined)
      tables.set(path, await readLocalTable(join(root, ...path.split('/')), path, format));
  }
  for (const index of indexes) checkShards(index, tables);
  return tables;
}

async function readText(file: string, shown: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw cannotRead(shown, error);
  }
}
