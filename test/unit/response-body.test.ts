import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import type { BodySink, HttpResponse } from '../../src/net/response-body.js';
import { ResponseHandler } from '../../src/net/response-handler.js';

/** undici's side of one exchange, driven by the test: what the handler asked of it is recorded. */
class Exchange {
  paused = false;
  pauses = 0;
  aborted: Error | undefined;
  readonly controller = {
    pause: () => {
      this.paused = true;
      this.pauses++;
    },
    resume: () => {
      this.paused = false;
    },
    abort: (reason: Error) => {
      this.aborted = reason;
    },
    get aborted() {
      return false;
    },
    get paused() {
      return false;
    },
    get reason() {
      return null;
    },
  } as unknown as Dispatcher.DispatchController;
  readonly handler = new ResponseHandler(undefined, undefined, (error) => error);

  async answer(): Promise<HttpResponse> {
    this.handler.onRequestStart(this.controller);
    this.handler.onResponseStart(this.controller, 200, { 'content-length': '100' });
    return (await this.handler.response) as HttpResponse;
  }

  data(text: string): void {
    this.handler.onResponseData(this.controller, Buffer.from(text));
  }
}

/** A sink that records what it is given and asks for a pause while `full` is set. */
function recorder() {
  const got = { text: '', ended: 0, error: undefined as Error | undefined, full: false };
  const sink: BodySink = {
    data: (chunk) => {
      got.text += chunk.toString();
      return !got.full;
    },
    end: () => got.ended++,
    error: (error) => (got.error = error),
  };
  return { got, sink };
}

const afterEnd = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

describe('ResponseBody.divert', () => {
  it('hands over what was buffered, then each chunk, pausing the exchange while the sink asks', async () => {
    const exchange = new Exchange();
    const response = await exchange.answer();
    exchange.data('ab');
    exchange.data('cd');
    const { got, sink } = recorder();
    const resume = response.body.divert(sink);
    expect(got.text).toBe('abcd');
    expect(exchange.paused).toBe(false);

    got.full = true;
    exchange.data('ef');
    expect(exchange.paused).toBe(true);
    got.full = false;
    resume();
    expect(exchange.paused).toBe(false);
    exchange.data('gh');
    expect(exchange.pauses).toBe(1);
    // The stream side never resumes the exchange once diverted: only the sink's `resume` does.
    got.full = true;
    exchange.data('ij');
    response.body.read();
    expect(exchange.paused).toBe(true);

    exchange.handler.onResponseEnd();
    // The end follows undici's own setImmediate, which hands the connection back to its pool.
    expect(got.ended).toBe(0);
    await afterEnd();
    expect(got).toMatchObject({ text: 'abcdefghij', ended: 1, error: undefined });
  });

  it('gives a body that ended before the divert whole, then its end', async () => {
    const exchange = new Exchange();
    const response = await exchange.answer();
    exchange.data('whole');
    exchange.handler.onResponseEnd();
    await afterEnd();
    const { got, sink } = recorder();
    response.body.divert(sink);
    expect(got).toMatchObject({ text: 'whole', ended: 1 });
  });

  it('passes a failure on, before the divert or after it, and a destroy gives the request up', async () => {
    const early = new Exchange();
    const before = await early.answer();
    early.handler.onResponseError(early.controller, new Error('reset'));
    const first = recorder();
    before.body.divert(first.sink);
    expect(first.got.error?.message).toBe('reset');

    const late = new Exchange();
    const after = await late.answer();
    const second = recorder();
    after.body.divert(second.sink);
    late.data('xy');
    late.handler.onResponseError(late.controller, new Error('cut'));
    expect(second.got).toMatchObject({ text: 'xy', ended: 0 });
    expect(second.got.error?.message).toBe('cut');

    const given = new Exchange();
    const abandoned = await given.answer();
    abandoned.body.divert(recorder().sink);
    abandoned.body.destroy();
    expect(given.aborted).toBeDefined();
  });
});

describe('ResponseHandler.onResponseStart', () => {
  it("lets go of undici's raw header Buffers, which hold the socket's read", async () => {
    const exchange = new Exchange();
    const read = Buffer.alloc(64 * 1024);
    exchange.controller.rawHeaders = [read.subarray(0, 14), read.subarray(16, 19)];
    const response = await exchange.answer();
    expect(exchange.controller.rawHeaders).toBeNull();
    // The parsed headers are what the caller reads.
    expect(response.headers['content-length']).toBe('100');
  });
});
