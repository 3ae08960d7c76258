/**
 * A `--json` document written piece by piece, byte for byte what `JSON.stringify(value, null, 2)`
 * would write: the plan of 10^6 fragments is 165 MB of text, which as one string (and its copy with
 * the newline, and its bytes) took a gigabyte.
 */

/** A list of the document made as it is written: `format` gives one item's JSON at `indent`. */
export class JsonList<T> {
  constructor(
    readonly items: readonly T[],
    readonly format: (item: T, indent: string) => string,
  ) {}
}

/**
 * What JSON.stringify writes between the quotes of `text`: the text itself when no character of it
 * is escaped (printable ASCII without `"` and `\\`, as paths mostly are), with no string made.
 */
export function jsonStringContent(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c)
      return JSON.stringify(text).slice(1, -1);
  }
  return text;
}

const CHUNK = 1 << 20;
/** List items encoded at once. */
const BATCH = 32;

type OutputEvent = 'drain' | 'close' | 'error';

/** Where the document goes: stdout, whose `write` says false when its buffer is full. */
export interface JsonOutput {
  /** Given UTF-8 chunks, each whole characters. */
  write(chunk: Uint8Array): unknown;
  once?(event: OutputEvent, listener: () => void): unknown;
  off?(event: OutputEvent, listener: () => void): unknown;
  /** Set once the reader has gone (`| head`: EPIPE): the rest is not written. */
  destroyed?: boolean;
  writableErrored?: unknown;
}

/**
 * Writes `document` and a newline to `out`, in chunks of about a megabyte, each after the last has
 * drained: stdout on a pipe queues what its reader has not taken (the whole plan: 1.5 GB of RSS).
 * `JsonList`s are written item by item, and so are the objects holding one, at any depth; every
 * other value as JSON.stringify writes it.
 */
export async function writeJsonDocument(out: JsonOutput, document: object): Promise<void> {
  const chunks = new Chunks(out);
  await writeObject(chunks, document, '');
  chunks.put('\n');
  await chunks.flush();
}

async function writeObject(chunks: Chunks, object: object, indent: string): Promise<void> {
  const members = Object.entries(object).filter(([, value]) => isJsonValue(value));
  if (members.length === 0) {
    chunks.put('{}');
    return;
  }
  const inner = `${indent}  `;
  for (const [i, [key, value]] of members.entries()) {
    chunks.put(`${i === 0 ? '{' : ','}\n${inner}${JSON.stringify(key)}: `);
    if (value instanceof JsonList) await writeList(chunks, value as JsonList<unknown>, inner);
    else if (holdsList(value)) await writeObject(chunks, value as object, inner);
    else chunks.put(JSON.stringify(value, null, 2).replaceAll('\n', `\n${inner}`));
  }
  chunks.put(`\n${indent}}`);
}

async function writeList(
  chunks: Chunks,
  { items, format }: JsonList<unknown>,
  indent: string,
): Promise<void> {
  if (items.length === 0) {
    chunks.put('[]');
    return;
  }
  const inner = `${indent}  `;
  // Items are put a batch at a time, joined: a put per item (encoding a few hundred bytes each)
  // was 0.35 s of calls for 2·10^6 of them. The separator after a batch is an empty item of its
  // own: a string added to the joined one would be flattened again when it is encoded.
  const separator = `,\n${inner}`;
  const batch = new Array<string>(BATCH + 1);
  let inBatch = 0;
  chunks.put(`[\n${inner}`);
  for (let j = 0; j < items.length; j++) {
    batch[inBatch++] = format(items[j], inner);
    const last = j === items.length - 1;
    if (inBatch < BATCH && !last) continue;
    if (!last) batch[inBatch++] = '';
    batch.length = inBatch;
    const full = chunks.put(batch.join(separator));
    inBatch = 0;
    if (full) await chunks.flush();
  }
  chunks.put(`\n${indent}]`);
}

/** An object (not an array) with a `JsonList` among its members, or theirs. */
function holdsList(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).some((member) => member instanceof JsonList || holdsList(member));
}

/**
 * Text gathered into chunks: `put` says when one is full, `flush` writes it and waits until the
 * output drains, fails or closes (a reader that went away, `| head`, never drains it).
 */
class Chunks {
  #buffer = Buffer.allocUnsafe(CHUNK);
  #used = 0;
  #gone = false;
  constructor(readonly out: JsonOutput) {}

  /**
   * Encodes `text` into the chunk at once: strings added up (`+=`) were flattened into a string of a
   * megabyte per chunk, then encoded into its Buffer, 160 MB of large objects for a plan of 10^6
   * fragments that only a full collection frees. A chunk is never cut inside a string, so each is
   * UTF-8 of its own. True when it is full.
   */
  put(text: string): boolean {
    // A UTF-16 code unit takes at most 3 bytes of UTF-8.
    if (this.#used + text.length * 3 > this.#buffer.length) {
      if (this.#used > 0) this.#queue();
      if (text.length * 3 > this.#buffer.length) this.#buffer = Buffer.allocUnsafe(text.length * 3);
    }
    this.#used += this.#buffer.write(text, this.#used, 'utf8');
    // A chunk queued to make room is full too.
    return this.#full.length > 0 || this.#used >= CHUNK - 4096;
  }

  /** Chunks full, to be written by the next flush, in order. */
  #full: Buffer[] = [];

  #queue(): void {
    this.#full.push(this.#buffer.subarray(0, this.#used));
    this.#buffer = Buffer.allocUnsafe(CHUNK);
    this.#used = 0;
  }

  async flush(): Promise<void> {
    if (this.#used > 0) this.#queue();
    for (const chunk of this.#full.splice(0)) await this.#write(chunk);
  }

  async #write(chunk: Buffer): Promise<void> {
    const { out } = this;
    if (this.#gone) return;
    if (out.write(chunk) !== false || !out.once || !out.off) return;
    await new Promise<void>((resolve) => {
      const events = ['drain', 'close', 'error'] as const;
      const done = (event: (typeof events)[number]) => () => {
        if (event !== 'drain') this.#gone = true;
        for (const listener of listeners) out.off!(listener[0], listener[1]);
        resolve();
      };
      const listeners = events.map((event) => [event, done(event)] as const);
      for (const [event, listener] of listeners) out.once!(event, listener);
    });
  }
}

/** What JSON.stringify keeps of an object's member: not undefined, a function or a symbol. */
function isJsonValue(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}
