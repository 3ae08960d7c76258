import type { Integrity, Priority } from './fragment.js';

/** A range's default id, `path#offset`, made when it is read: a string per fragment saved. */
const RANGE_ID: PropertyDescriptor = {
  get(this: ReadFragment): string {
    return `${this.path}#${this.offset!}`;
  },
  enumerable: true,
  configurable: true,
};

/**
 * A fragment as a manifest gives it, with only the fields it has (none set to undefined), each in
 * the object itself, in the order of the fields of a literal. A class: the resolver (resolve.ts)
 * extends it with a `urls` getter on the prototype for the fragments whose URLs are made as they
 * are read: a getter defined on each object is a call into the runtime per fragment, and a slower
 * read. The others are given their `urls` as a field.
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

  constructor(
    id: string | undefined,
    path: string,
    offset: number | undefined,
    size: number | undefined,
    integrity: Integrity | undefined,
    priority: Priority,
    importance: number,
    index: number,
  ) {
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

/** ReadFragment or a subclass (the resolver's, with URLs of its own getter). */
export type ReadFragmentClass = typeof ReadFragment;
