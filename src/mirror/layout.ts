import { displayUrl, FragfetchError } from '../errors.js';
import type { Fragment, Manifest } from '../manifest/fragment.js';
import { orderFragments } from '../manifest/order.js';
import { pathProblem } from '../manifest/schema.js';

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
export function planLayout(manifest: Manifest): FileLayout[] {
  const source = displayUrl(manifest.source);
  const invalid = (problem: string) => new FragfetchError('EMANIFEST', `${source}: ${problem}`);
  const byPath = new Map<string, Fragment[]>();
  for (const fragment of orderFragments(manifest.fragments)) {
    // The schema already refuses these; a manifest built in code may not have been through it.
    const problem = pathProblem(fragment.path);
    if (problem !== undefined) throw invalid(`fragment "${fragment.id}": path ${problem}`);
    const [top] = fragment.path.split('/');
    if (top === STATE_DIR) {
      throw invalid(
        `fragment "${fragment.id}": path ${fragment.path} is inside ${STATE_DIR}/, reserved for mirror state`,
      );
    }
    if (fragment.path.split('/').pop()!.endsWith(TEMP_SUFFIX)) {
      throw invalid(
        `fragment "${fragment.id}": path ${fragment.path} ends in ${TEMP_SUFFIX}, reserved for files being written`,
      );
    }
    const group = byPath.get(fragment.path);
    if (group) group.push(fragment);
    else byPath.set(fragment.path, [fragment]);
  }

  for (const [path, group] of byPath) {
    const segments = path.split('/');
    for (let depth = 1; depth < segments.length; depth++) {
      const parent = byPath.get(segments.slice(0, depth).join('/'));
      if (parent) {
        throw invalid(
          `fragments "${parent[0]!.id}" and "${group[0]!.id}": ${parent[0]!.path} cannot be both a file and the directory of ${path}`,
        );
      }
    }
  }

  return [...byPath].map(([path, group]) => fileOf(path, group, invalid));
}

function fileOf(path: string, group: Fragment[], invalid: (problem: string) => FragfetchError): FileLayout {
  const wholes = group.filter((fragment) => fragment.offset === undefined);
  if (wholes.length > 1) {
    throw invalid(`fragments "${wholes[0]!.id}" and "${wholes[1]!.id}" are both the whole of ${path}`);
  }
  const whole = wholes[0];
  if (whole && group.length === 1) return { kind: 'whole', path, fragment: whole };
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
  return { kind: 'ranges', path, ranges, size };
}

function isRange(fragment: Fragment): fragment is RangeFragment {
  return fragment.offset !== undefined && fragment.size !== undefined;
}

function span(range: RangeFragment): string {
  return `${range.offset}-${range.offset + range.size - 1}`;
}

/** The fragments a file is made of. */
export function fragmentsOf(file: FileLayout): Fragment[] {
  return file.kind === 'whole' ? [file.fragment] : file.ranges;
}
