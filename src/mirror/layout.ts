import { displayUrl, FragfetchError } from '../errors.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import { orderFragments } from '../manifest/order.js';
import { pathProblem } from '../manifest/schema.js';
import { StringIndex } from '../manifest/string-index.js';
import { idsKnownUnique } from '../manifest/unique-ids.js';
import { markLaidOut, RangesFile, WholeFile } from './laid-out-file.js';

/** A fragment that is a byte range: `offset` and `size` are both known (the schema requires it). */
export type RangeFragment = Fragment & { offset: number; size: number };

/** One file under the mirror directory and the fragments it is made of. */
export type FileLayout =
  | { kind: 'whole'; path: string; fragment: Fragment }
  | {
      kind: 'ranges';
      path: string;
      /** Sorted by offset; they do not overlap. */
      ranges: RangeFragment[];
      /** max(offset + size): bytes between ranges are holes, zero-filled on a first write. */
      size: number;
    };

/** Suffix of the temporary names files are assembled under, next to their final name. */
export const TEMP_SUFFIX = '.fragfetch-tmp';

/** The folder under `<dir>` where mirror keeps its own state; no manifest path may enter it. */
export const STATE_DIR = '.fragfetch';

/**
 * Groups a manifest's fragments into the files `mirror` writes, in download order of each file's most
 * urgent fragment, and refuses a layout that cannot be written unambiguously:
 *
 *   - two whole-object fragments on one path, or a whole object and byte ranges on one path;
 *   - byte ranges of one path that overlap (which bytes would win?);
 *   - a path that is both a file and a directory (`a` and `a/b`);
 *   - a path inside `.fragfetch/`, where mirror keeps its state, or ending in `.fragfetch-tmp`.
 *
 * Pure: every problem is an EMANIFEST error whose one line names both fragments involved.
 */
export function planLayout(
  manifest: Manifest,
  ordered: readonly Fragment[] = orderFragments(manifest.fragments),
): FileLayout[] {
  const source = displayUrl(manifest.source);
  const invalid = (problem: string) => new FragfetchError('EMANIFEST', `${source}: ${problem}`);
  const known = idsKnownUnique(manifest.fragments) && ordered.length === manifest.fragments.length;
  const groups =
    (known ? groupsByIds(ordered, invalid) : undefined) ?? groupsByIndex(manifest, ordered, invalid);
  // Each group becomes its file where it is: no second array of 900k.
  const files = groups as unknown as FileLayout[];
  for (let i = 0; i < groups.length; i++) files[i] = fileOf(groups[i]!, invalid);
  markLaidOut(files);
  return files;
}

/** Each path's fragment, or its fragments when there are more, in order of first use. */
type Groups = (Fragment | Fragment[])[];

/**
 * The groups by an index of every path: most files are one whole object (an array each was 900k
 * arrays for 10^6 fragments).
 */
function groupsByIndex(
  manifest: Manifest,
  ordered: readonly Fragment[],
  invalid: (problem: string) => FragfetchError,
): Groups {
  // Made at the most it can need and cut to what it holds: grown by pushes, it left its copies behind.
  const groups: Groups = new Array<Fragment | Fragment[]>(ordered.length);
  let count = 0;
  const index = new StringIndex(manifest.fragments.length, (position) => first(groups[position]!).path);
  for (const fragment of ordered) {
    const at = index.add(fragment.path, count);
    if (at === -1) {
      // A path is checked once, with the first fragment that has it: the one a problem names.
      checkPath(fragment, invalid);
      groups[count++] = fragment;
      continue;
    }
    addTo(groups, at, fragment);
  }
  groups.length = count;
  const fileAt = (path: string) => {
    const at = index.get(path);
    return at === -1 ? undefined : groups[at];
  };
  checkDirectories(groups, fileAt, invalid);
  index.release();
  return groups;
}

/** Distinct paths of ranges, and directories, the groups by ids keep in sets; past that, the index. */
const MAX_SET = 1 << 16;

/**
 * The groups of fragments whose ids are known unique (as read), when every whole object's id is
 * its path: their paths are then their own, and only the paths of ranges (few files, most often)
 * and the directories (as few) are kept, in small sets, instead of an index of every path whose
 * lookups are each a cache miss. Undefined, for the index to decide and to name the fragments,
 * when a whole object has an id of its own, when a path is both a whole object's and ranges', or a
 * file's and a directory, or when the sets grow large.
 */
function groupsByIds(
  ordered: readonly Fragment[],
  invalid: (problem: string) => FragfetchError,
): Groups | undefined {
  const groups: Groups = new Array<Fragment | Fragment[]>(ordered.length);
  let count = 0;
  const ranges = new Map<string, number>();
  // Ranges of one file tend to come together: the last one's group is at hand.
  let lastPath: string | undefined;
  let lastAt = 0;
  for (const fragment of ordered) {
    const { path } = fragment;
    if (fragment.offset === undefined) {
      if (fragment.id !== path) return undefined;
      checkPath(fragment, invalid, true);
      groups[count++] = fragment;
      continue;
    }
    if (path === lastPath) {
      addTo(groups, lastAt, fragment);
      continue;
    }
    const at = ranges.get(path);
    if (at === undefined) {
      if (ranges.size === MAX_SET) return undefined;
      checkPath(fragment, invalid, true);
      ranges.set(path, count);
      lastAt = count;
      groups[count++] = fragment;
    } else {
      addTo(groups, at, fragment);
      lastAt = at;
    }
    lastPath = path;
  }
  groups.length = count;
  const directories = new Set<string>();
  // The lengths of directories and of ranges' paths: a path of no such length is neither (most of
  // them), looked up in no set (its hash never computed).
  const lengths = new Set<number>();
  for (const path of ranges.keys()) lengths.add(path.length);
  let last = '';
  for (const group of groups) {
    const { path } = first(group);
    const slash = lastSlash(path);
    if (slash === -1 || (slash === last.length && path.startsWith(last))) continue;
    last = path.slice(0, slash);
    // The directory and its ancestors, up to one already known (whose own ancestors are).
    for (let directory = last; !directories.has(directory);) {
      directories.add(directory);
      lengths.add(directory.length);
      const up = lastSlash(directory);
      if (up === -1) break;
      directory = directory.slice(0, up);
    }
    if (directories.size > MAX_SET) return undefined;
  }
  for (const group of groups) {
    const { path } = first(group);
    if (!lengths.has(path.length)) continue;
    if (directories.has(path)) return undefined;
    if (!Array.isArray(group) && group.offset === undefined && ranges.has(path)) return undefined;
  }
  return groups;
}

/** `path.lastIndexOf('/')` without a call into the runtime per path. */
function lastSlash(path: string): number {
  for (let i = path.length - 1; i >= 0; i--) if (path.charCodeAt(i) === SLASH) return i;
  return -1;
}

const SLASH = 0x2f;

function addTo(groups: Groups, at: number, fragment: Fragment): void {
  const group = groups[at]!;
  if (Array.isArray(group)) group.push(fragment);
  else groups[at] = [group, fragment];
}

/** A path mirror can write: valid (as the schema says) and outside what mirror keeps for itself. */
function checkPath(
  fragment: Fragment,
  invalid: (problem: string) => FragfetchError,
  /** Of a list as read: the reader has found its path valid (targetPath checks it again before a write). */
  asRead = false,
): void {
  const { path } = fragment;
  // The schema already refuses these; a manifest built in code may not have been through it.
  const problem = asRead ? undefined : pathProblem(path);
  if (problem !== undefined) throw invalid(`fragment "${fragment.id}": path ${problem}`);
  if (path.startsWith(STATE_DIR) && (path.length === STATE_DIR.length || path[STATE_DIR.length] === '/')) {
    throw invalid(
      `fragment "${fragment.id}": path ${path} is inside ${STATE_DIR}/, reserved for mirror state`,
    );
  }
  // The suffix holds no "/": the path ends in it when its last segment does.
  if (path.endsWith(TEMP_SUFFIX)) {
    throw invalid(
      `fragment "${fragment.id}": path ${path} ends in ${TEMP_SUFFIX}, reserved for files being written`,
    );
  }
}

/**
 * No path may be both a file and a directory: each path's ancestors are looked up among the files,
 * shallowest first, the first conflict in file order named. A directory whose ancestors were all
 * looked up is remembered, and consecutive paths mostly share theirs: one lookup a path, not a
 * split, slice and join per segment.
 */
function checkDirectories(
  groups: readonly (Fragment | Fragment[])[],
  fileAt: (path: string) => Fragment | Fragment[] | undefined,
  invalid: (problem: string) => FragfetchError,
): void {
  const clear = new Set<string>();
  let last = '';
  for (const group of groups) {
    const { path } = first(group);
    const slash = lastSlash(path);
    if (slash === -1) continue;
    if (slash === last.length && path.startsWith(last)) continue;
    const directory = path.slice(0, slash);
    if (!clear.has(directory)) {
      for (let end = path.indexOf('/'); end !== -1; end = path.indexOf('/', end + 1)) {
        const ancestor = path.slice(0, end);
        const parent = fileAt(ancestor);
        if (parent !== undefined) {
          const [file, other] = [first(parent), first(fileAt(path)!)];
          throw invalid(
            `fragments "${file.id}" and "${other.id}": ${file.path} cannot be both a file and the directory of ${path}`,
          );
        }
        clear.add(ancestor);
      }
    }
    last = directory;
  }
}

function first(group: Fragment | Fragment[]): Fragment {
  return Array.isArray(group) ? group[0]! : group;
}

function fileOf(group: Fragment | Fragment[], invalid: (problem: string) => FragfetchError): FileLayout {
  if (!Array.isArray(group)) {
    if (group.offset === undefined) return new WholeFile(group);
    group = [group];
  }
  const { path } = group[0]!;
  const wholes = group.filter((fragment) => fragment.offset === undefined);
  if (wholes.length > 1) {
    throw invalid(`fragments "${wholes[0]!.id}" and "${wholes[1]!.id}" are both the whole of ${path}`);
  }
  const whole = wholes[0];
  if (whole && group.length === 1) return new WholeFile(whole);
  const ranges = group.filter(isRange).sort((a, b) => a.offset - b.offset || a.size - b.size);
  if (whole) {
    throw invalid(
      `fragments "${whole.id}" and "${ranges[0]!.id}": ${path} is given both whole and as byte ranges`,
    );
  }
  let size = 0;
  let previous: RangeFragment | undefined;
  for (const range of ranges) {
    // An empty range occupies no byte, so it cannot overlap anything.
    if (range.size === 0) continue;
    if (previous && previous.offset + previous.size > range.offset) {
      throw invalid(
        `fragments "${previous.id}" and "${range.id}" overlap in ${path} (bytes ${span(previous)} and ${span(range)})`,
      );
    }
    previous = range;
  }
  for (const range of ranges) size = Math.max(size, range.offset + range.size);
  return new RangesFile(path, ranges, size);
}

function isRange(fragment: Fragment): fragment is RangeFragment {
  return fragment.offset !== undefined && fragment.size !== undefined;
}

function span(range: RangeFragment): string {
  return `${range.offset}-${range.offset + range.size - 1}`;
}
