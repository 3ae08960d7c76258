import type { DocumentFragment } from '../manifest/document.js';
import { type TensorRange } from './layout.js';
import { assignPriorities, defaultRules, explainRules, type PriorityRule } from './priority.js';

/** A fragment on its way into a document, with the tensor it holds (if any) for the priority rules. */
export interface Described {
  fragment: DocumentFragment;
  tensor: string | undefined;
}

export function rangeFragment(
  path: string,
  range: TensorRange,
  extra: { integrity?: string; url?: string },
): Described {
  const fragment: DocumentFragment = {
    id: range.id,
    path,
    ...(extra.url === undefined ? {} : { url: extra.url }),
    offset: range.offset,
    size: range.size,
    ...(extra.integrity === undefined ? {} : { integrity: extra.integrity }),
  };
  return { fragment, tensor: range.tensor };
}

/**
 * Sets each fragment's `priority` and `importance` from the rules, and says for `--explain` which
 * rule decided each one.
 */
export function prioritise(
  described: readonly Described[],
  rules: readonly PriorityRule[],
): { fragments: DocumentFragment[]; explained: string[] } {
  const items = described.map(({ fragment, tensor }) => ({ id: fragment.id ?? fragment.path, tensor }));
  const assigned = assignPriorities(items, rules);
  const fragments = described.map(({ fragment }, i) => {
    const { priority, importance } = assigned[i]!;
    return { ...fragment, priority, importance };
  });
  const explained = assigned.map(
    ({ priority, importance, rule }, i) =>
      `  ${priority.padEnd(10)} ${importance.toFixed(3)}  ${items[i]!.id}  (${rule?.glob.pattern ?? 'no rule'})`,
  );
  return { fragments, explained };
}

/**
 * The fragments of a document: with the user's rules, then (for tensor manifests) the defaults,
 * each given its class and importance and `onExplain` told why; without any rule, as they are.
 */
export function finishFragments(
  described: readonly Described[],
  options: { priority?: readonly PriorityRule[]; tensors?: boolean; onExplain?: (lines: string[]) => void },
): DocumentFragment[] {
  const rules = [...(options.priority ?? []), ...(options.tensors ? defaultRules() : [])];
  if (rules.length === 0) return described.map((d) => d.fragment);
  const { fragments, explained } = prioritise(described, rules);
  options.onExplain?.([...explainRules(rules), ...explained]);
  return fragments;
}
