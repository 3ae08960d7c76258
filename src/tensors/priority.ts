import { FragfetchError } from '../errors.js';
import { PRIORITIES, type Priority } from '../manifest/fragment.js';
import { compileGlob, type Glob } from '../manifest/glob.js';
import { HEADER_ID } from './layout.js';

/** `--priority CLASS=GLOB`, or one of the defaults. */
export interface PriorityRule {
  priority: Priority;
  glob: Glob;
  /** Why the rule is there: shown by `--explain`. */
  why: string;
}

/** What a rule is matched against: the fragment's id, and the tensor's own name when it is one. */
export interface Classifiable {
  id: string;
  tensor: string | undefined;
}

export interface Assigned {
  priority: Priority;
  importance: number;
  /** The rule that matched, or undefined for the fallback. */
  rule: PriorityRule | undefined;
}

/**
 * Defaults for the layouts of transformers, llama.cpp and GPT-2-style checkpoints: what a loader
 * needs before any layer runs is critical; layers follow in order (see `layerOf`).
 */
const DEFAULTS: [Priority, string, string][] = [
  ['critical', `*:${HEADER_ID}`, 'a loader reads the header before any tensor'],
  ['critical', '*.json', 'config, tokenizer and shard index: read before the weights'],
  ['critical', '*embed*', 'token embeddings (embed_tokens, wte, token_embd)'],
  ['critical', '*lm_head*', 'the output projection'],
  ['critical', 'output.weight', "the output projection, as llama.cpp's GGUF names it"],
  ['critical', '*norm*', 'norms: small, and every layer needs its own'],
  ['critical', '*{layers,layer,blk,h,block,blocks}.0.*', 'layer 0: the first to run'],
];

export function defaultRules(): PriorityRule[] {
  return DEFAULTS.map(([priority, pattern, why]) => ({ priority, glob: compileGlob(pattern), why }));
}

/** Parses `CLASS=GLOB`; a bad class or glob is a usage error naming the option. */
export function parsePriorityRule(text: string): PriorityRule {
  const equals = text.indexOf('=');
  const name = equals === -1 ? '' : text.slice(0, equals);
  if (!(PRIORITIES as readonly string[]).includes(name) || equals === text.length - 1) {
    throw new FragfetchError(
      'EUSAGE',
      `invalid priority rule "${text}": expected CLASS=GLOB, CLASS one of ${PRIORITIES.join(', ')}`,
    );
  }
  return { priority: name as Priority, glob: compileGlob(text.slice(equals + 1)), why: '--priority' };
}

/** Layer-numbered names: `model.layers.12.`, `blk.12.`, `transformer.h.12.`, `encoder.layer.12.` */
const LAYER = /(?:^|\.)(?:layers|layer|blk|h|block|blocks)\.(\d+)(?:\.|$)/;

export function layerOf(tensor: string | undefined): number | undefined {
  const match = tensor === undefined ? null : LAYER.exec(tensor);
  return match ? Number(match[1]) : undefined;
}

/**
 * Gives each fragment its class, from the first rule that matches it (the user's before the
 * defaults), else `high` inside a numbered layer and `normal` outside one; and its importance, so
 * that within a class earlier layers come first: (L − n)/(L + 1) for layer n of L, 1 outside layers.
 */
export function assignPriorities(items: readonly Classifiable[], rules: readonly PriorityRule[]): Assigned[] {
  const layers = items.map((item) => layerOf(item.tensor));
  const count = Math.max(-1, ...layers.map((n) => n ?? -1)) + 1;
  return items.map((item, i) => {
    const layer = layers[i];
    const rule = rules.find(
      (r) => r.glob.matches(item.id) || (item.tensor !== undefined && r.glob.matches(item.tensor)),
    );
    const priority = rule?.priority ?? (layer === undefined ? 'normal' : 'high');
    const importance = layer === undefined ? 1 : Math.round(((count - layer) / (count + 1)) * 1e6) / 1e6;
    return { priority, importance, rule };
  });
}

/** The rules in the order they are tried, for `--explain`. */
export function explainRules(rules: readonly PriorityRule[]): string[] {
  const width = Math.max(...rules.map((r) => r.glob.pattern.length), 'anything else'.length);
  const line = (priority: string, what: string, why: string) =>
    `  ${priority.padEnd(10)} ${what.padEnd(width)}  ${why}`;
  return [
    'priority rules, first match wins (over fragment ids and tensor names):',
    ...rules.map((r) => line(r.priority, r.glob.pattern, r.why)),
    line('high', 'in layer N', 'any other tensor of a numbered layer'),
    line('normal', 'anything else', ''),
    'importance: earlier layers first, (L - N)/(L + 1) for layer N of L; 1 outside layers',
  ];
}
