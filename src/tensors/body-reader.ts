import type { HttpResponse } from '../net/http.js';

/** Takes bytes from the front of a body, a count at a time, leaving the rest unread. */
export class BodyReader {
  readonly #body: HttpResponse['body'];
  readonly #chunks: AsyncIterator<Buffer>;
  #left: Buffer = Buffer.alloc(0);

  readonly #ranged: boolean;

  /** `ranged`: the body is a range we asked for, short enough to read to its end. */
  constructor(body: HttpResponse['body'], ranged: boolean) {
    this.#body = body;
    this.#ranged = ranged;
    this.#chunks = body[Symbol.asyncIterator]();
  }

  /** The next `length` bytes, or fewer if the body ends first. */
  async take(length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < length) {
      if (this.#left.length === 0) {
        const next = await this.#chunks.next();
        if (next.done) break;
        this.#left = next.value;
      }
      const part = this.#left.subarray(0, length - have);
      this.#left = this.#left.subarray(part.length);
      parts.push(part);
      have += part.length;
    }
    return Buffer.concat(parts);
  }

  /**
   * Nothing more is wanted. The rest of a range is read, so that its connection stays open for
   * the next request; a whole file's body is closed, rather than kept busy with gigabytes.
   */
  close(): void {
    if (!this.#ranged || this.#body.readableEnded) this.#body.destroy();
    else void this.#drain().catch(() => this.#body.destroy());
  }

  async #drain(): Promise<void> {
    this.#left = Buffer.alloc(0);
    while (!(await this.#chunks.next()).done);
  }
}
