import { Writable } from 'node:stream';
import type { CliIO } from '../io.js';

/** Where `fragfetch cat` writes the fragment's bytes. */
export interface ByteSink {
  /** Writes all of `chunk`; resolves once the sink is done with it. */
  write(chunk: Buffer): Promise<void>;
  /** True when a chunk may be reused as soon as its write resolved. */
  readonly reuses: boolean;
  /** Once everything written has been handed on. */
  end(): Promise<void>;
}

/**
 * stdout as a sink. A real stream (process.stdout: a pipe, a file, a terminal) calls a write's
 * callback once it is done with the chunk — for a pipe, once the last byte is in the kernel's
 * buffer — so two chunks can be taken in turn, one filling while the other drains. Anything else
 * (the tests' seam) keeps what it is given: each chunk is then a buffer of its own.
 */
export function stdoutSink(stdout: CliIO['stdout']): ByteSink {
  if (!(stdout instanceof Writable)) {
    return { reuses: false, write: async (chunk) => void stdout.write(chunk), end: async () => {} };
  }
  return {
    reuses: true,
    // A write's callback gets its error (a closed pipe: EPIPE) too.
    write: (chunk) =>
      new Promise<void>((resolve, reject) =>
        stdout.write(chunk, (error) => (error ? reject(error) : resolve())),
      ),
    // stdout is not ended: Node keeps it open for the process's life, and a command ends nothing it
    // did not open.
    end: async () => {},
  };
}
