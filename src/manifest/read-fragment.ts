import type { Integrity, Priority } from './fragment.js';

/** A range's default id, `path#offset`, made when it is read: a string per fragment saved. */
const RANGE_ID: PropertyDescriptor = {
  get(this: ReadFragment): string {
    return `${this.path}#${this.offset!}`;
  },
  enumerable: true,
  configurable: true,
};

/** A fragment's fields as read, in the order of the manifest's form; `id` and `size` optional. */
export type ReadFragmentFields = [
  id: string | undefined,
  path: string,
  offset: number | undefined,
  size: number | undefined,
  integrity: Integrity | undefined,
  priority: Priority,
  importance: number,
  index: number,
];

/**
 * A fragment as a manifest gives it, with only the fields it has (none set to undefined), each in
 * the object itself, in the order of the fields of a literal. A class: the resolver (resolve.ts)
 * extends it with a `urls` getter on the prototype for the fragments whose URLs are made as they
 * are read, where a getter defined on each object was a call into the runtime per fragment (0.3–0.4
 * s for 10^6) and a slower read. The others are given their `urls` as a field.
 */
export class ReadFragment {
  declare id: string;
  declare path: string;
  declare priority: Priority;
  declare importance: number;
  declare index: number;
  declare offset?: number;
  declare size?: number;
  declare integrity?: Integrity;

  constructor(...[id, path, offset, size, integrity, priority, importance, index]: ReadFragmentFields) {
    if (id !== undefined) this.id = id;
    else if (offset === undefined) this.id = path;
    this.path = path;
    this.priority = priority;
    this.importance = importance;
    this.index = index;
    if (offset !== undefined) {
      this.offset = offset;
      this.size = size!;
      if (id === undefined) Object.defineProperty(this, 'id', RANGE_ID);
    } else if (size !== undefined) this.size = size;
    if (integrity !== undefined) this.integrity = integrity;
  }
}

/** A subclass of ReadFragment, for the resolver's fragments with URLs of their own getter. */
export type ReadFragmentClass = new (...fields: ReadFragmentFields) => ReadFragment;
