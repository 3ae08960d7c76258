/**
 * Values kept per origin (an endpoint: what fails, throttles or is far away), looked up by URL. A
 * lookup runs per received chunk and per choice of endpoint: a URL is matched against the few
 * origins known by its start, with no parse and no allocation; only a URL whose origin is not
 * written at its start (a login in the authority, say) is parsed, and remembered. A map by URL
 * held every URL of a run: 2·10^6 strings for 10^6 fragments on two mirrors. Iterates in order of
 * first use.
 */
/** An http(s) origin, which a URL of it starts with once normalised. */
const ORIGIN = /^https?:\/\/[^/?#@]+$/;

export class ByOrigin<T> {
  readonly #byOrigin = new Map<string, T>();
  /** Origins a URL starts with, and their values, in order of first use. */
  readonly #prefixes: string[] = [];
  readonly #values: T[] = [];
  /** The index in #prefixes of the last match: consecutive lookups tend to share their origin. */
  #last = 0;
  readonly #odd = new Map<string, T>();
  readonly #create: (origin: string) => T;

  constructor(create: (origin: string) => T) {
    this.#create = create;
  }

  of(url: string): T {
    const prefixes = this.#prefixes;
    const count = prefixes.length;
    for (let tried = 0; tried < count; tried++) {
      const i = (this.#last + tried) % count;
      if (isOriginOf(prefixes[i]!, url)) {
        this.#last = i;
        return this.#values[i]!;
      }
    }
    const known = this.#odd.get(url);
    if (known !== undefined) return known;
    const origin = endpointOf(url);
    let value = this.#byOrigin.get(origin);
    if (value === undefined) {
      value = this.#create(origin);
      this.#byOrigin.set(origin, value);
    }
    // Not among the prefixes yet, or the scan above would have found it.
    if (ORIGIN.test(origin) && isOriginOf(origin, url)) {
      prefixes.push(origin);
      this.#values.push(value);
      this.#last = prefixes.length - 1;
    } else this.#odd.set(url, value);
    return value;
  }

  entries(): IterableIterator<[origin: string, value: T]> {
    return this.#byOrigin.entries();
  }

  values(): IterableIterator<T> {
    return this.#byOrigin.values();
  }
}

/**
 * Whether `endpointOf(url)` is `origin` (an http(s) origin), told without parsing or allocating: a
 * normalised URL starts with its origin, followed by its path, query or fragment.
 */
export function isOriginOf(origin: string, url: string): boolean {
  if (!url.startsWith(origin)) return false;
  if (url.length === origin.length) return true;
  const next = url.charCodeAt(origin.length);
  return next === 0x2f || next === 0x3f || next === 0x23;
}

/** Endpoints are reported by origin: that is what fails, throttles or is far away. */
export function endpointOf(url: string): string {
  // A manifest's URLs are already normalised (parsed when it was read): the origin is what precedes
  // the path, unless credentials sit in the authority. Parsing 2000 URLs showed in profiles.
  const plain = /^(https?:\/\/[^/?#@]+)[/?#]/.exec(url);
  if (plain) return plain[1]!;
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
