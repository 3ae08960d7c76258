import { stripUrlAuth } from '../errors.js';
import type { MirrorPlan } from '../mirror/plan.js';
import type { FileDecision } from '../mirror/scan.js';
import { formatBytes, widest } from '../units.js';
import { JsonList, jsonStringContent } from './json-stream.js';

/** The `mirror` member of `mirror --dry-run --json`: what would change under `<dir>`. */
export interface MirrorPlanReport {
  dir: string;
  exists: boolean;
  write: { path: string; reason: string; fragments: number; bytes: number }[];
  upToDate: string[];
  delete: string[];
  refused: { path: string; error: { code: string; message: string } }[];
}

type Write = Extract<FileDecision, { action: 'write' }>;

/** The report with its two long lists made only as they are written (json-stream.ts). */
export type MirrorPlanDocument = Omit<MirrorPlanReport, 'write' | 'upToDate'> & {
  write: JsonList<Write>;
  upToDate: JsonList<FileDecision>;
};

/** The plan's decisions sorted into the report's lists, in file order: no object per file. */
export function mirrorPlanDocument(plan: MirrorPlan): MirrorPlanDocument {
  const { decisions } = plan;
  // Every file to write (always so into a folder that does not exist yet, which is not looked
  // through again): the decisions as they are, no list made.
  const all = !plan.exists || decisions.every((decision) => decision.action === 'write');
  const write: Write[] = all ? (decisions as Write[]) : [];
  const upToDate: FileDecision[] = [];
  const refused: MirrorPlanReport['refused'] = [];
  if (!all) {
    for (const decision of decisions) {
      if (decision.action === 'write') write.push(decision);
      else if (decision.action === 'unchanged') upToDate.push(decision);
      else {
        const { code, message } = decision.error;
        refused.push({ path: decision.file.path, error: { code, message: stripUrlAuth(message) } });
      }
    }
  }
  return {
    dir: plan.root,
    exists: plan.exists,
    write: new JsonList(write, writeJson),
    upToDate: new JsonList(upToDate, (decision) => JSON.stringify(decision.file.path)),
    delete: plan.toDelete,
    refused,
  };
}

/** The document with its lists made: the human form's input. */
export function mirrorPlanReport(document: MirrorPlanDocument): MirrorPlanReport {
  return {
    ...document,
    write: document.write.items.map(written),
    upToDate: document.upToDate.items.map((decision) => decision.file.path),
  };
}

function written(decision: Write): MirrorPlanReport['write'][number] {
  const bytes = decision.needed.reduce((sum, f) => sum + (f.size ?? 0), 0);
  return { path: decision.file.path, reason: decision.reason, fragments: decision.needed.length, bytes };
}

/** A written file's members as JSON.stringify(…, null, 2) writes them at an indent, made once. */
interface WriteKeys {
  indent: string;
  /** Up to the path's opening quote, and from its closing quote to the reason's. */
  path: string;
  reason: string;
  /** From the reason's closing quote to the number of fragments, and on to the bytes. */
  fragments: string;
  bytes: string;
  /** From the path's closing quote to the bytes, for a whole file missing (most of them). */
  missingWhole: string;
  end: string;
}

let keysAt: WriteKeys | undefined;

function writeKeys(indent: string): WriteKeys {
  if (keysAt?.indent === indent) return keysAt;
  const field = `\n${indent}  `;
  keysAt = {
    indent,
    path: `{${field}"path": "`,
    reason: `",${field}"reason": "`,
    fragments: `",${field}"fragments": `,
    bytes: `,${field}"bytes": `,
    missingWhole: `",${field}"reason": "missing",${field}"fragments": 1,${field}"bytes": `,
    end: `\n${indent}}`,
  };
  return keysAt;
}

/**
 * `written(decision)` as JSON.stringify(…, null, 2) writes it at `indent`, without the object, in
 * as few pieces as it has parts that vary: each piece is a string made and flattened per file.
 */
function writeJson(decision: Write, indent: string): string {
  const keys = writeKeys(indent);
  const { file, reason } = decision;
  const path = jsonStringContent(file.path);
  // A whole file's only fragment is the one needed: no list to add up.
  if (file.kind === 'whole' && reason === 'missing') {
    return keys.path + path + keys.missingWhole + String(file.fragment.size ?? 0) + keys.end;
  }
  const bytes = decision.needed.reduce((sum, f) => sum + (f.size ?? 0), 0);
  // The reasons are words that JSON writes as they are.
  return `${keys.path}${path}${keys.reason}${reason}${keys.fragments}${decision.needed.length}${keys.bytes}${bytes}${keys.end}`;
}

export function formatMirrorPlan(plan: MirrorPlanReport): string {
  const lines = ['', `mirror into ${plan.dir}${plan.exists ? '' : ' (would be created)'}:`];
  lines.push(
    `  ${plan.write.length} to write, ${plan.upToDate.length} up to date, ${plan.delete.length} to delete`,
  );
  const width = Math.min(
    60,
    widest(plan.write, (w) => w.path.length),
  );
  for (const w of plan.write) {
    const what = w.reason === 'missing' ? 'write' : 'replace';
    const why = w.reason === 'differs' ? ' (differs)' : w.reason === 'replace' ? ' (not a regular file)' : '';
    lines.push(`    ${what.padEnd(7)}  ${w.path.padEnd(width)}  ${formatBytes(w.bytes)}${why}`);
  }
  for (const path of plan.delete) lines.push(`    delete   ${path}`);
  for (const r of plan.refused) lines.push(`    refuse   ${r.path}: ${r.error.message}`);
  return `${lines.join('\n')}\n`;
}
