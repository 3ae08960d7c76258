export { type ErrorCode, FragfetchError, isFragfetchError } from './errors.js';
export {
  type FetchObserver,
  type FetchOptions,
  type FetchPlan,
  fetchDefaults,
  fetchManifest,
  planFetch,
} from './fetch/engine.js';
export type { EndpointReport, FailureReport, FetchReport } from './fetch/report.js';
export * from './manifest/index.js';
export { formatBytes, formatDuration, formatRate, parseDuration, parseSize } from './units.js';
export {
  createLoader,
  Loader,
  type LoaderEvents,
  type LoaderOptions,
  type ManifestSource,
  type ReadOptions,
  type ReadyFragment,
  type StreamOptions,
} from './loader/loader.js';
export type { FragmentBytes } from './loader/fragment-bytes.js';
export type { NetworkOptions } from './net/http.js';
