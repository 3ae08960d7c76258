import type { Priority } from './fragment.js';

/** A fragment as `manifest create` writes it, keys in the order a reader expects them. */
export interface DocumentFragment {
  id?: string;
  path: string;
  url?: string;
  offset?: number;
  size: number;
  integrity?: string;
  priority?: Priority;
  importance?: number;
}

/** Where a remote file's fragments came from, and what it was when its header was read. */
export interface DocumentSource {
  path: string;
  url: string;
  size: number;
  etag?: string;
  lastModified?: string;
  tensors: number;
}

/** A manifest version 1 document, as written to disk. */
export interface ManifestDocument {
  version: 1;
  name: string;
  baseUrls?: string[];
  fragments: DocumentFragment[];
  /** Remote creation only: the validators recorded instead of integrity (readers ignore the key). */
  sources?: DocumentSource[];
}
