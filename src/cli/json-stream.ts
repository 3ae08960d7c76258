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

const CHUNK = 1 << 20;

type OutputEvent = 'drain' | 'close' | 'error';

/** Where the document goes: stdout, whose `write` says false when its buffer is full. */
export interface JsonOutput {
  write(text: string): unknown;
  once?(event: OutputEvent, listener: () => void): unknown;
  off?(event: OutputEvent, listener: () => void): unknown;
  /** Set once the reader has gone (`| head`: EPIPE): the rest is not written. */
  destroyed?: boolean;
  writableErrored?: unknown;
}

/**
 * Writes `document` and a newline to `out`, in chunks of about a megabyte, each after the last has
 * drained: stdout on a pipe queues what its reader has not taken (the whole plan: 1.5 GB of RSS).
 * The top-level members that are `JsonList`s are written item by item; every other member as
 * JSON.stringify writes it.
 */
export async function writeJsonDocument(out: JsonOutput, document: object): Promise<void> {
  const chunks = new Chunks(out);
  const members = Object.entries(document).filter(([, value]) => isJsonValue(value));
  if (members.length === 0) chunks.put('{}');
  for (const [i, [key, value]] of members.entries()) {
    chunks.put(`${i === 0 ? '{' : ','}\n  ${JSON.stringify(key)}: `);
    if (!(value instanceof JsonList)) {
      chunks.put(JSON.stringify(value, null, 2).replaceAll('\n', '\n  '));
      continue;
    }
    const { items, format } = value as JsonList<unknown>;
    if (items.length === 0) chunks.put('[]');
    for (let j = 0; j < items.length; j++) {
      if (chunks.put(`${j === 0 ? '[' : ','}\n    ${format(items[j], '    ')}`)) await chunks.flush();
    }
    if (items.length > 0) chunks.put('\n  ]');
  }
  if (members.length > 0) chunks.put('\n}');
  chunks.put('\n');
  await chunks.flush();
}

/**
 * Text gathered into chunks: `put` says when one is full, `flush` writes it and waits until the
 * output drains, fails or closes (a reader that went away, `| head`, never drains it).
 */
class Chunks {
  #text = '';
  #gone = false;
  constructor(readonly out: JsonOutput) {}

  put(text: string): boolean {
    this.#text += text;
    return this.#text.length >= CHUNK;
  }

  async flush(): Promise<void> {
    const { out } = this;
    const text = this.#text;
    this.#text = '';
    if (this.#gone) return;
    if (out.write(text) !== false || !out.once || !out.off) return;
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
