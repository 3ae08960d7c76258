import { displayUrl } from '../errors.js';
import { type Fragment, type Manifest, PRIORITIES, type Priority } from './fragment.js';
import { checkIntegrity } from './integrity.js';
import { FragmentResolver } from './resolve.js';
import { StringIndex } from './string-index.js';
import { markIdsUnique } from './unique-ids.js';
import { isHttpUrl, pathProblem } from './schema.js';

const PRIORITY_SET: ReadonlySet<string> = new Set(PRIORITIES);

/**
 * A valid manifest read directly, without the schema: the fragments are built as each is checked,
 * with no intermediate object. Anything the schema would refuse (a field of the wrong type, a
 * duplicate id, a fragment without URLs) gives undefined, and the schema then says why, with its
 * messages. The schema took ~45 ms for 2000 fragments of a run's start, and 7 s of CPU for 10^6
 * (`bench/scale-manifest.ts`, on a loaded machine); this takes a few ms, and 1.5 s. It accepts
 * nothing the schema refuses, and gives what the schema gives (test/manifest/direct.test.ts checks both, case by case).
 */
export function directManifest(json: unknown, source: string): Manifest | undefined {
  if (!isRecord(json) || json.version !== 1) return undefined;
  const { name, baseUrls, fragments: inputs } = json;
  if (!Array.isArray(inputs) || inputs.length === 0) return undefined;
  const builder = DirectBuilder.start(name, baseUrls, source, inputs.length);
  if (builder === undefined) return undefined;
  for (const input of inputs) if (!builder.add(input)) return undefined;
  return builder.finish();
}

/**
 * A manifest built fragment by fragment, each checked as it comes: from a parsed document's array
 * (directManifest) or from the text itself (scan.ts). Every refusal is undefined or false, for the
 * schema to say why.
 */
export class DirectBuilder {
  readonly #name: string | undefined;
  readonly #source: string;
  readonly #resolver: FragmentResolver;
  readonly #ids: Ids;
  readonly #fragments: Fragment[];
  #count = 0;

  private constructor(
    name: string | undefined,
    baseUrls: readonly string[],
    source: string,
    expected: number,
  ) {
    this.#name = name;
    this.#source = source;
    this.#resolver = new FragmentResolver(baseUrls, source);
    this.#ids = new Ids(expected);
    this.#fragments = new Array<Fragment>(expected);
  }

  /** `expected`: about how many fragments there will be (the arrays are made at that size). */
  static start(
    name: unknown,
    baseUrls: unknown,
    source: string,
    expected: number,
  ): DirectBuilder | undefined {
    if (name !== undefined && typeof name !== 'string') return undefined;
    if (baseUrls !== undefined) {
      if (!Array.isArray(baseUrls) || baseUrls.length === 0) return undefined;
      if (!baseUrls.every((url) => typeof url === 'string' && isHttpUrl(url))) return undefined;
    }
    return new DirectBuilder(name, (baseUrls as string[] | undefined) ?? [], source, expected);
  }

  /** The next fragment, as JSON.parse would give it; false when the schema would refuse it. */
  add(input: unknown): boolean {
    const fragment = directFragment(input, this.#count, this.#resolver, this.#ids);
    if (fragment === undefined) return false;
    this.#fragments[this.#count++] = fragment;
    return true;
  }

  /** The manifest, or undefined when two fragments share an id. */
  finish(): Manifest | undefined {
    const ids = this.#ids;
    const repeated = ids.repeated();
    ids.release();
    if (repeated || this.#count === 0) return undefined;
    const fragments = this.#fragments;
    fragments.length = this.#count;
    markIdsUnique(fragments);
    const manifest: Manifest = { version: 1, source: displayUrl(this.#source), fragments };
    if (this.#name !== undefined) manifest.name = this.#name;
    if (this.#resolver.logins.size > 0) manifest.logins = this.#resolver.logins;
    return manifest;
  }
}

function directFragment(
  input: unknown,
  index: number,
  resolver: FragmentResolver,
  ids: Ids,
): Fragment | undefined {
  if (!isRecord(input)) return undefined;
  const { path, url, offset, size, integrity, priority, importance, id } = input;
  if (typeof path !== 'string' || pathProblem(path) !== undefined) return undefined;
  if (url !== undefined && !(typeof url === 'string' && isHttpUrl(url))) return undefined;
  if (offset !== undefined && (!isByteCount(offset) || size === undefined)) return undefined;
  if (size !== undefined && !isByteCount(size)) return undefined;
  // The range's end is a byte position too (the schema says so past 2^53 - 1).
  if (offset !== undefined && (offset as number) + (size as number) > Number.MAX_SAFE_INTEGER)
    return undefined;
  if (priority !== undefined && !(typeof priority === 'string' && PRIORITY_SET.has(priority)))
    return undefined;
  if (importance !== undefined && !(typeof importance === 'number' && importance >= 0 && importance <= 1)) {
    return undefined;
  }
  if (id !== undefined && !(typeof id === 'string' && id !== '')) return undefined;
  const checked =
    integrity === undefined ? undefined : typeof integrity === 'string' && checkIntegrity(integrity);
  if (checked === false || typeof checked === 'string') return undefined;

  const Made = resolver.classFor(path, url as string | undefined);
  const fragment = new Made(
    id as string | undefined,
    path,
    offset as number | undefined,
    size as number | undefined,
    checked,
    (priority ?? 'normal') as Priority,
    (importance as number | undefined) ?? 0,
    index,
  );
  if (!resolver.assign(fragment, url as string | undefined)) return undefined;
  if (id !== undefined || offset === undefined) ids.add(fragment.id);
  else ids.addRange(path, offset as number);
  return fragment;
}

/**
 * Whether any two fragments share an id, without a set of 10^6 strings (1.6 s, most of it hashing
 * `path#offset` strings made for it): ids given or taken from a path go in a StringIndex, the
 * offsets of ranges with a default id in a list per path, sorted and compared with their neighbours.
 */
class Ids {
  readonly #named: string[] = [];
  readonly #index: StringIndex;
  readonly #offsets = new Map<string, number[]>();
  #repeated = false;
  #lastPath: string | undefined;
  #lastOffsets: number[] = [];

  /** `count`: how many ids there will be, about. */
  constructor(count: number) {
    this.#index = new StringIndex(count, (position) => this.#named[position]!);
  }

  add(id: string): void {
    if (this.#index.add(id, this.#named.length) === -1) this.#named.push(id);
    else this.#repeated = true;
  }

  addRange(path: string, offset: number): void {
    // Ranges of one file tend to come together: the list of the last path is at hand.
    if (path !== this.#lastPath) {
      let offsets = this.#offsets.get(path);
      if (offsets === undefined) this.#offsets.set(path, (offsets = []));
      this.#lastPath = path;
      this.#lastOffsets = offsets;
    }
    this.#lastOffsets.push(offset);
  }

  /** Its index's memory, for the next index (a mirror's paths). */
  release(): void {
    this.#index.release();
  }

  repeated(): boolean {
    if (this.#repeated) return true;
    for (const offsets of this.#offsets.values()) {
      offsets.sort((a, b) => a - b);
      for (let i = 1; i < offsets.length; i++) if (offsets[i] === offsets[i - 1]) return true;
    }
    // A named id can be another fragment's `path#offset`: `a#5` is the id of the range of a at 5.
    if (this.#offsets.size === 0) return false;
    for (const id of this.#named) {
      for (let hash = id.indexOf('#'); hash !== -1; hash = id.indexOf('#', hash + 1)) {
        const rest = id.slice(hash + 1);
        const offset = Number(rest);
        if (String(offset) === rest && sortedHas(this.#offsets.get(id.slice(0, hash)), offset)) return true;
      }
    }
    return false;
  }
}

function sortedHas(sorted: readonly number[] | undefined, value: number): boolean {
  if (sorted === undefined) return false;
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! === value) return true;
    if (sorted[middle]! < value) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isByteCount(value: unknown): boolean {
  return (
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER
  );
}
