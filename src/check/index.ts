export { classify, describeError, isDefinitive, mirrorFindings, sizeProblem } from './classify.js';
export { endpointOf } from './endpoint.js';
export { type JunitOptions, renderJunit } from './junit.js';
export { buildReport, type ReportMeta } from './report.js';
export { type CheckOptions, checkDefaults, checkManifest } from './run.js';
export { sampleFragments } from './sample.js';
export { median, percentile } from './stats.js';
export { formatCheck, type TableOptions } from './table.js';
export type {
  CheckReport,
  EndpointSummary,
  FailureEntry,
  Finding,
  FindingCode,
  Observation,
  Outcome,
  ProbeReport,
  ProbeResult,
} from './types.js';
export { outcomeOf } from './types.js';
