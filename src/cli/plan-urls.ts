import { displayUrl } from '../errors.js';
import { endpointOf, isOriginOf } from '../fetch/stats.js';
import type { Fragment } from '../manifest/fragment.js';
import { type UrlBases, urlBasesOf } from '../manifest/resolve.js';

/** Origins a dry run would use, and for how many fragments each is the first choice or a fallback. */
export interface PlannedEndpoint {
  url: string;
  primary: number;
  fallback: number;
}

/**
 * What the fragments under one set of base URLs have in common: the shown first URL around the
 * path, and the origins. A path under bases is plain (resolve.ts): it is neither changed by
 * displayUrl nor escaped by JSON.
 */
interface BasesForm {
  /** The shown first URL is `before + path + after`; undefined when it is not (then per fragment). */
  before: string | undefined;
  after: string;
  /**
   * The JSON of the shown first URL around the path: its opening quote and `before` as JSON writes it
   * within a string, then `after` so and the closing quote; undefined with `before`.
   */
  jsonAround: readonly [string, string] | undefined;
  /** The origin of each URL, in failover order (two may be the same). */
  origins: string[];
}

/**
 * The first URL of planned fragments as shown, and their origins, for a dry run of 10^6 fragments:
 * a fragment under base URLs is its path between strings made once per set of bases, where
 * building, redacting and quoting its two URLs took 0.8 s.
 */
export class PlanUrls {
  #forms = new Map<UrlBases, BasesForm>();
  #lastBases: UrlBases | undefined;
  #lastForm: BasesForm | undefined;

  /** The fragment's first URL as shown (credentials redacted), as JSON.stringify quotes it. */
  quotedFirst(fragment: Fragment): string {
    const around = this.#formOf(fragment)?.jsonAround;
    if (around === undefined) return JSON.stringify(displayUrl(fragment.urls[0] ?? ''));
    return around[0] + fragment.path + around[1];
  }

  /**
   * For a fragment whose path is under base URLs, the JSON of its first URL as shown is
   * `around[0] + path + around[1]`, and its path is written by JSON as it is (it is plain); else
   * undefined.
   */
  jsonAround(fragment: Fragment): readonly [string, string] | undefined {
    return this.#formOf(fragment)?.jsonAround;
  }

  /** The fragment's first URL as shown. */
  first(fragment: Fragment): string {
    const form = this.#formOf(fragment);
    if (form?.before === undefined) return displayUrl(fragment.urls[0] ?? '');
    return `${form.before}${fragment.path}${form.after}`;
  }

  /**
   * Origins the fragments would use, each counted once per fragment (two base URLs may share one),
   * in order of first use. Consecutive fragments mostly have the same origins in the same order: a
   * run of them is recognised by their bases, or else by the starts of their URLs, and counted at
   * its end, once.
   */
  endpoints(fragments: readonly Fragment[]): PlannedEndpoint[] {
    const endpoints = new Map<string, PlannedEndpoint>();
    const count = (origins: readonly string[], run: number) => {
      const seen: string[] = [];
      for (const raw of origins) {
        const origin = displayUrl(raw);
        if (seen.includes(origin)) continue;
        let tally = endpoints.get(origin);
        if (tally === undefined) endpoints.set(origin, (tally = { url: origin, primary: 0, fallback: 0 }));
        if (seen.length === 0) tally.primary += run;
        else tally.fallback += run;
        seen.push(origin);
      }
    };
    let origins: readonly string[] = [];
    let form: BasesForm | undefined;
    let run = 0;
    for (const fragment of fragments) {
      const next = this.#formOf(fragment);
      if (run > 0 && next === form && (next !== undefined || sameOrigins(origins, fragment.urls))) {
        run++;
        continue;
      }
      if (run > 0) count(origins, run);
      form = next;
      origins = next?.origins ?? fragment.urls.map((url) => endpointOf(url));
      run = 1;
    }
    if (run > 0) count(origins, run);
    return [...endpoints.values()];
  }

  #formOf(fragment: Fragment): BasesForm | undefined {
    const bases = urlBasesOf(fragment);
    if (bases === undefined) return undefined;
    if (bases === this.#lastBases) return this.#lastForm;
    let form = this.#forms.get(bases);
    if (form === undefined) this.#forms.set(bases, (form = formOf(bases)));
    this.#lastBases = bases;
    this.#lastForm = form;
    return form;
  }
}

function formOf(bases: UrlBases): BasesForm {
  const { prefix, search } = bases[0]!;
  // Redaction touches only the query, which a plain path never holds: a probe's is every path's.
  const probe = `${prefix}p`;
  const shown = displayUrl(`${probe}${search}`);
  const after = shown.slice(probe.length);
  const quoted = (text: string) => JSON.stringify(text).slice(1, -1);
  const before = shown.startsWith(probe) ? prefix : undefined;
  return {
    before,
    after,
    jsonAround: before === undefined ? undefined : [`"${quoted(before)}`, `${quoted(after)}"`],
    origins: bases.map((base) => endpointOf(`${base.prefix}p${base.search}`)),
  };
}

function sameOrigins(origins: readonly string[], urls: readonly string[]): boolean {
  if (urls.length !== origins.length) return false;
  for (let i = 0; i < urls.length; i++) if (!isOriginOf(origins[i]!, urls[i]!)) return false;
  return true;
}
