import { displayUrl, FragfetchError, stripUrlAuth } from '../errors.js';
import type { DocumentSource, ManifestDocument } from '../manifest/document.js';
import { isHttpUrl, pathProblem } from '../manifest/schema.js';
import { formatBytes } from '../units.js';
import { type Described, finishFragments, rangeFragment } from './fragments.js';
import { layoutTensors } from './layout.js';
import type { PriorityRule } from './priority.js';
import { formatOf } from './read-local.js';
import {
  headRemote,
  readRemoteGguf,
  readRemoteSafetensors,
  readRemoteText,
  type RemoteObject,
  type Requester,
} from './remote-read.js';
import { checkShards, isShardIndex, parseShardIndex, type ShardIndex } from './shard-index.js';
import type { TensorTable } from './table.js';

export interface RemoteManifestOptions {
  http: Requester;
  /** Per-tensor fragments; without, every file is whole (one HEAD each). */
  tensors: boolean;
  name?: string;
  priority?: readonly PriorityRule[];
  signal?: AbortSignal;
  /** One line per file: its tensor count, size and the requests it cost. */
  onFile?: (line: string) => void;
  onExplain?: (lines: string[]) => void;
}

/** A shard index is small; an "index" of more than this is not one. */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/**
 * The manifest of files on a server, made from their headers alone (range requests, nothing
 * downloaded): the same fragments as a local `--tensors` manifest, without integrity, since the
 * bytes were never seen; each file's validators are recorded in `sources` instead. A shard index
 * URL stands for itself and every shard it names.
 */
export async function createRemoteManifest(
  urls: readonly string[],
  options: RemoteManifestOptions,
): Promise<ManifestDocument> {
  for (const url of urls) {
    if (!isHttpUrl(url))
      throw new FragfetchError('EUSAGE', `invalid URL "${url}": expected an absolute http(s) URL`);
  }
  const base = commonBase(urls);
  const pathOf = (url: string) => relativePath(url, base);
  const { http, signal } = options;

  const files: string[] = [];
  const indexes: { index: ShardIndex; object: RemoteObject; url: string }[] = [];
  for (const url of urls) {
    if (!options.tensors || !isShardIndex(new URL(url).pathname)) {
      if (!files.includes(url)) files.push(url);
      continue;
    }
    const path = pathOf(url);
    const { text, object } = await readRemoteText({ http, url, shown: path, signal }, MAX_INDEX_BYTES);
    const index = parseShardIndex(path, text);
    indexes.push({ index, object, url });
    options.onFile?.(`${path}: ${index.shards.length} shards named, ${formatBytes(object.size)} (1 request)`);
    for (const shard of index.shards) {
      const shardUrl = urlOfShard(index, shard, url);
      if (!files.includes(shardUrl)) files.push(shardUrl);
    }
  }
  const shardUrls = new Set(
    indexes.flatMap(({ url, index }) => index.shards.map((shard) => urlOfShard(index, shard, url))),
  );

  const described: Described[] = [];
  const sources: DocumentSource[] = [];
  const tables = new Map<string, TensorTable>();
  for (const { url, object } of indexes) {
    described.push({ fragment: { path: pathOf(url), size: object.size }, tensor: undefined });
    sources.push(source(pathOf(url), url, object, 0));
  }
  for (const url of files) {
    const path = pathOf(url);
    const format = !options.tensors
      ? undefined
      : shardUrls.has(url)
        ? 'safetensors'
        : formatOf(new URL(url).pathname);
    if (format === undefined) {
      const object = await headRemote({ http, url, shown: path, signal });
      described.push({ fragment: { path, size: object.size }, tensor: undefined });
      sources.push(source(path, url, object, 0));
      options.onFile?.(`${path}: whole, ${formatBytes(object.size)} (1 request)`);
      continue;
    }
    const read = format === 'gguf' ? readRemoteGguf : readRemoteSafetensors;
    const { table, object } = await read({ http, url, shown: path, signal });
    tables.set(path, table);
    for (const range of layoutTensors(path, table, object.size))
      described.push(rangeFragment(path, range, {}));
    sources.push(source(path, url, object, table.tensors.length));
    const requests = `${object.requests} request${object.requests === 1 ? '' : 's'}`;
    options.onFile?.(`${path}: ${table.tensors.length} tensors, ${formatBytes(object.size)} (${requests})`);
  }
  for (const { index } of indexes) checkShards(index, tables);

  const head = { version: 1 as const, name: options.name ?? defaultName(base), baseUrls: [base] };
  return { ...head, fragments: finishFragments(described, options), sources };
}

/** Shard paths are relative to the manifest root; the index's URL is what they resolve against. */
function urlOfShard(index: ShardIndex, shard: string, indexUrl: string): string {
  const folder = index.path.slice(0, index.path.lastIndexOf('/') + 1);
  return new URL(shard.slice(folder.length).split('/').map(encodeURIComponent).join('/'), indexUrl).href;
}

function source(path: string, url: string, object: RemoteObject, tensors: number): DocumentSource {
  return {
    path,
    url: stripUrlAuth(url),
    size: object.size,
    ...(object.etag === undefined ? {} : { etag: object.etag }),
    ...(object.lastModified === undefined ? {} : { lastModified: object.lastModified }),
    tensors,
  };
}

/** The folder URL all the files are under: it becomes the base URL, their paths relative to it. */
function commonBase(urls: readonly string[]): string {
  const folders = urls.map((url) => {
    const parsed = new URL(url);
    if (parsed.search !== '' || parsed.hash !== '') {
      throw new FragfetchError(
        'EUSAGE',
        `cannot describe ${displayUrl(url)}: a URL with a query has no path to mirror`,
      );
    }
    return parsed.href.slice(0, parsed.href.lastIndexOf('/') + 1);
  });
  let base = folders[0] ?? '';
  for (const folder of folders) {
    while (!folder.startsWith(base)) base = base.slice(0, base.lastIndexOf('/', base.length - 2) + 1);
  }
  if (!isHttpUrl(base) || new URL(base).origin !== new URL(folders[0] ?? '').origin) {
    throw new FragfetchError('EUSAGE', 'the URLs are on different servers: one manifest holds one base URL');
  }
  return base;
}

function relativePath(url: string, base: string): string {
  const path = decodeURIComponent(url.slice(base.length));
  const problem = pathProblem(path);
  if (problem !== undefined) {
    throw new FragfetchError('EUSAGE', `cannot describe ${displayUrl(url)}: a fragment path ${problem}`);
  }
  return path;
}

function defaultName(base: string): string {
  const segments = new URL(base).pathname.split('/').filter((s) => s !== '');
  return decodeURIComponent(segments.at(-1) ?? new URL(base).host);
}
