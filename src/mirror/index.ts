export { type FileLayout, planLayout } from './layout.js';
export { type MirrorPlan, type PlanMirrorOptions, planMirror } from './plan.js';
export type { MirrorReport, MirrorSection } from './report.js';
export { type MirrorOptions, mirrorManifest } from './run.js';
