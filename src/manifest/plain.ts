import { PRIORITIES, type Priority } from './fragment.js';
import { checkIntegrity } from './integrity.js';
import { type FragmentInput, fragmentId, isHttpUrl, type ManifestInput, pathProblem } from './schema.js';

const PRIORITY_SET: ReadonlySet<string> = new Set(PRIORITIES);

/**
 * The schema's result for a manifest in the plainest form, what `manifest create` writes and most
 * tools emit: fragments of `path`, `size`, `integrity`, `priority`, `importance` and `id` only, all
 * valid. Anything else (a `url` or an `offset`, a field to complain about, a duplicate id) gives
 * undefined, and the schema decides, with its messages. zod took ~45 ms for 2000 such fragments of a
 * run's start, its generic code still cold; this takes a few. It accepts nothing the schema refuses,
 * and gives what the schema gives (test/manifest/plain.test.ts checks both, case by case).
 */
export function plainManifest(json: unknown): ManifestInput | undefined {
  if (!isRecord(json) || json.version !== 1) return undefined;
  const { name, baseUrls, fragments } = json;
  if (name !== undefined && typeof name !== 'string') return undefined;
  if (baseUrls !== undefined) {
    if (!Array.isArray(baseUrls) || baseUrls.length === 0) return undefined;
    if (!baseUrls.every((url) => typeof url === 'string' && isHttpUrl(url))) return undefined;
  }
  if (!Array.isArray(fragments) || fragments.length === 0) return undefined;
  const out: FragmentInput[] = [];
  const ids = new Set<string>();
  for (const input of fragments) {
    const fragment = plainFragment(input);
    if (!fragment) return undefined;
    const id = fragmentId(fragment);
    if (ids.has(id)) return undefined;
    ids.add(id);
    out.push(fragment);
  }
  const manifest: ManifestInput = { version: 1, fragments: out };
  if (name !== undefined) manifest.name = name;
  if (baseUrls !== undefined) manifest.baseUrls = baseUrls as string[];
  return manifest;
}

function plainFragment(input: unknown): FragmentInput | undefined {
  if (!isRecord(input) || input.url !== undefined || input.offset !== undefined) return undefined;
  const { path, size, integrity, priority, importance, id } = input;
  if (typeof path !== 'string' || pathProblem(path) !== undefined) return undefined;
  if (size !== undefined && !isByteCount(size)) return undefined;
  if (priority !== undefined && !(typeof priority === 'string' && PRIORITY_SET.has(priority)))
    return undefined;
  if (importance !== undefined && !(typeof importance === 'number' && importance >= 0 && importance <= 1)) {
    return undefined;
  }
  if (id !== undefined && !(typeof id === 'string' && id !== '')) return undefined;
  const fragment: FragmentInput = {
    path,
    priority: (priority ?? 'normal') as Priority,
    importance: importance ?? 0,
  };
  if (size !== undefined) fragment.size = size as number;
  if (integrity !== undefined) {
    const parsed = typeof integrity === 'string' ? checkIntegrity(integrity) : undefined;
    if (parsed === undefined || typeof parsed === 'string') return undefined;
    fragment.integrity = parsed;
  }
  if (id !== undefined) fragment.id = id;
  return fragment;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isByteCount(value: unknown): boolean {
  return (
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER
  );
}
