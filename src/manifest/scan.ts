import { DirectBuilder } from './direct.js';
import { type Manifest, PRIORITIES } from './fragment.js';

/**
 * A manifest read from its text, each fragment checked (direct.ts) as soon as its object ends, in
 * one record reused for all of them: JSON.parse made an object and strings per fragment only for
 * them to be read once and dropped, and a manifest of 10^6 fragments paid for making them, for
 * collecting them and for holding them all at once.
 *
 * It reads the form tools write: `version`, `name` and `baseUrls` before `fragments`, each key once,
 * the fields of a fragment as strings and numbers, strings without escapes or control characters.
 * Anything else (and anything invalid) gives undefined: JSON.parse and the schema read the text
 * instead, and they say what is wrong and where. What it accepts, it reads as JSON.parse would
 * (test/manifest/scan.test.ts compares the two). Its strings are slices of the text, which V8 may
 * keep whole while a long one is held: no more than the manifest's size (MAX_MANIFEST_BYTES).
 */
export function scanManifest(text: string, source: string): Manifest | undefined {
  return new Scanner(text).manifest(source);
}

/** The characters the scanner looks for, by char code (frozen: the compiler folds them in). */
const CODE = Object.freeze({
  quote: 0x22,
  backslash: 0x5c,
  comma: 0x2c,
  colon: 0x3a,
  openBrace: 0x7b,
  closeBrace: 0x7d,
  openBracket: 0x5b,
  closeBracket: 0x5d,
  minus: 0x2d,
  plus: 0x2b,
  period: 0x2e,
  zero: 0x30,
  nine: 0x39,
});

/** A fragment's fields by key, in one object reused for every fragment. */
interface FragmentRecord {
  path: unknown;
  url: unknown;
  offset: unknown;
  size: unknown;
  integrity: unknown;
  priority: unknown;
  importance: unknown;
  id: unknown;
}

/** The keys of a fragment, by their number in `seen` bits and in `#set`. */
const FIELDS = ['path', 'url', 'offset', 'size', 'integrity', 'priority', 'importance', 'id'] as const;
const PRIORITY_FIELD = FIELDS.indexOf('priority');

/**
 * About how many fragments a text of this length lists, for the sizes of the arrays: a fragment
 * with a path and a size is 30 to 100 characters; past the guess they grow.
 */
const CHARS_PER_FRAGMENT = 40;

/**
 * A cursor over the text. A read that finds what it does not take marks the scan failed and moves
 * the cursor past the end, where every later read fails too, so that no loop goes on and no value
 * read after it is used: each method returns something of its type, which `manifest` drops.
 */
class Scanner {
  readonly #text: string;
  #at = 0;
  #failed = false;

  constructor(text: string) {
    this.#text = text;
  }

  manifest(source: string): Manifest | undefined {
    const seen = new Set<string>();
    let builder: DirectBuilder | undefined;
    let version: unknown;
    let name: unknown;
    let baseUrls: unknown;
    this.#expect(CODE.openBrace);
    do {
      const key = this.#key();
      // A key twice is the last one for JSON.parse; one that changes how fragments read comes first.
      if (seen.has(key) || builder !== undefined) return undefined;
      seen.add(key);
      if (key === 'version') version = this.#number();
      else if (key === 'name') name = this.#string();
      else if (key === 'baseUrls') baseUrls = this.#strings();
      else if (key === 'fragments' && version === 1 && !this.#failed) {
        const expected = Math.ceil(this.#text.length / CHARS_PER_FRAGMENT);
        builder = DirectBuilder.start(name, baseUrls, source, expected);
        if (builder === undefined || !this.#fragments(builder)) return undefined;
      } else return undefined;
    } while (this.#next(CODE.closeBrace));
    this.#space();
    if (this.#failed || this.#at !== this.#text.length || builder === undefined) return undefined;
    return builder.finish();
  }

  /** The fragments' array, each given to `builder` as it ends; false as soon as one is refused. */
  #fragments(builder: DirectBuilder): boolean {
    const record: FragmentRecord = {
      path: undefined,
      url: undefined,
      offset: undefined,
      size: undefined,
      integrity: undefined,
      priority: undefined,
      importance: undefined,
      id: undefined,
    };
    this.#expect(CODE.openBracket);
    do {
      record.path = record.url = record.offset = record.size = undefined;
      record.integrity = record.priority = record.importance = record.id = undefined;
      this.#fragment(record);
      if (this.#failed || !builder.add(record)) return false;
    } while (this.#next(CODE.closeBracket));
    return !this.#failed;
  }

  /** One fragment's object into `record`: its keys known ones, each once, each a string or a number. */
  #fragment(record: FragmentRecord): void {
    this.#expect(CODE.openBrace);
    let seen = 0;
    do {
      this.#space();
      const field = this.#field();
      if ((seen & (1 << field)) !== 0) this.#fail();
      seen |= 1 << field;
      this.#expect(CODE.colon);
      this.#space();
      let value: unknown;
      if (this.#text.charCodeAt(this.#at) !== CODE.quote) value = this.#number();
      else value = field === PRIORITY_FIELD ? this.#priority() : this.#string();
      set(record, field, value);
    } while (this.#next(CODE.closeBrace));
  }

  /** A fragment's key as its number in FIELDS, told by its length and text, with no string made. */
  #field(): number {
    const start = this.#at + 1;
    const end = this.#stringEnd();
    const field = known(this.#text, start, end, FIELDS);
    if (field === -1) this.#fail();
    return field;
  }

  /** A priority's name, one string for all of them. */
  #priority(): string {
    const start = this.#at + 1;
    const end = this.#stringEnd();
    const priority = PRIORITIES[known(this.#text, start, end, PRIORITIES)];
    return priority ?? this.#text.slice(start, end);
  }

  /** A key of the document and its colon. */
  #key(): string {
    const key = this.#string();
    this.#expect(CODE.colon);
    return key;
  }

  #strings(): string[] {
    const strings: string[] = [];
    this.#expect(CODE.openBracket);
    do strings.push(this.#string());
    while (this.#next(CODE.closeBracket));
    return strings;
  }

  #string(): string {
    this.#space();
    const start = this.#at + 1;
    const end = this.#stringEnd();
    return this.#failed ? '' : this.#text.slice(start, end);
  }

  /** From the opening quote at the cursor past the closing one: where the string's text ends. */
  #stringEnd(): number {
    const text = this.#text;
    if (text.charCodeAt(this.#at) !== CODE.quote) {
      this.#fail();
      return this.#at;
    }
    let at = this.#at + 1;
    for (;;) {
      const code = text.charCodeAt(at);
      if (code === CODE.quote) break;
      // Past the end, charCodeAt gives NaN: no string ends there.
      if (code === CODE.backslash || code < 0x20 || Number.isNaN(code)) {
        this.#fail();
        return this.#at;
      }
      at++;
    }
    this.#at = at + 1;
    return at;
  }

  /**
   * A JSON number. Digits alone (sizes, offsets) are added up as they are read; a sign, a fraction
   * or an exponent is checked against JSON's grammar and converted as JSON.parse does.
   */
  #number(): number {
    this.#space();
    const text = this.#text;
    const start = this.#at;
    let at = start;
    let plain = true;
    if (text.charCodeAt(at) === CODE.minus) {
      plain = false;
      at++;
    }
    let value = 0;
    const first = text.charCodeAt(at);
    if (first === CODE.zero) at++;
    else if (first > CODE.zero && first <= CODE.nine) {
      for (let code = first; code >= CODE.zero && code <= CODE.nine; code = text.charCodeAt(++at)) {
        value = value * 10 + (code - CODE.zero);
      }
    } else {
      this.#fail();
      return 0;
    }
    if (text.charCodeAt(at) === CODE.period) {
      plain = false;
      at = this.#digits(at + 1);
    }
    // `e` or `E`: the bit of case set.
    if ((text.charCodeAt(at) | 0x20) === 0x65) {
      plain = false;
      const sign = text.charCodeAt(at + 1);
      at = this.#digits(sign === CODE.plus || sign === CODE.minus ? at + 2 : at + 1);
    }
    if (this.#failed) return 0;
    this.#at = at;
    // Up to 15 digits the sum is exact; past them, rounding is the conversion's.
    return plain && at - start <= 15 ? value : Number(text.slice(start, at));
  }

  /** At least one digit from `at`: where they end. */
  #digits(at: number): number {
    const text = this.#text;
    const start = at;
    for (
      let code = text.charCodeAt(at);
      code >= CODE.zero && code <= CODE.nine;
      code = text.charCodeAt(++at)
    );
    if (at === start) this.#fail();
    return at;
  }

  /** After a member: true past a comma, false past `close` (and once the scan has failed). */
  #next(close: number): boolean {
    this.#space();
    const code = this.#text.charCodeAt(this.#at++);
    if (code === CODE.comma) return true;
    if (code !== close) this.#fail();
    return false;
  }

  #expect(code: number): void {
    this.#space();
    if (this.#text.charCodeAt(this.#at) === code) this.#at++;
    else this.#fail();
  }

  /** JSON's whitespace: space, tab, line feed, carriage return. */
  #space(): void {
    const text = this.#text;
    let at = this.#at;
    for (;;) {
      const code = text.charCodeAt(at);
      if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) break;
      at++;
    }
    this.#at = at;
  }

  #fail(): void {
    this.#failed = true;
    this.#at = this.#text.length + 1;
  }
}

/** Which of `names` the text from `start` to `end` is, or -1. */
function known(text: string, start: number, end: number, names: readonly string[]): number {
  const length = end - start;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name.length === length && text.startsWith(name, start)) return i;
  }
  return -1;
}

/** A store per key: one site storing any of eight keys would be the slow, generic one. */
function set(record: FragmentRecord, field: number, value: unknown): void {
  switch (FIELDS[field]) {
    case 'path':
      record.path = value;
      break;
    case 'url':
      record.url = value;
      break;
    case 'offset':
      record.offset = value;
      break;
    case 'size':
      record.size = value;
      break;
    case 'integrity':
      record.integrity = value;
      break;
    case 'priority':
      record.priority = value;
      break;
    case 'importance':
      record.importance = value;
      break;
    case 'id':
      record.id = value;
      break;
  }
}
