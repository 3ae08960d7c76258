export { type CreateManifestOptions, createManifest, type ManifestDocument } from './create.js';
export type { Fragment, HashAlgorithm, Integrity, Manifest, Priority } from './fragment.js';
export { PRIORITIES } from './fragment.js';
export { integrityKey, parseIntegrity } from './integrity.js';
export { type LoadManifestOptions, loadManifest } from './load.js';
export { compareFragments, orderFragments } from './order.js';
export { parseManifest, parseManifestText, resolveAgainstBase } from './parse.js';
