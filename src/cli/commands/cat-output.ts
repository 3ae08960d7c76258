import { type EventEmitter, once } from 'node:events';
import { write } from 'node:fs';
import type { CliIO } from '../io.js';

/** Where `fragfetch cat` writes the fragment's bytes. */
export interface ByteSink {
  /** Writes all of `chunk`; resolves once the sink is done with it. */
  write(chunk: Buffer): Promise<void>;
  /** True when a chunk may be reused as soon as its write resolved (the sink copied it). */
  readonly reuses: boolean;
  /** Once everything written has been handed on. */
  end(): Promise<void>;
}

/** The handle Node keeps for a stdout that is a pipe or a socket (libuv's stream); internal to Node. */
interface StdioStream {
  fd?: unknown;
  isTTY?: boolean;
  _handle?: { setBlocking?: (blocking: boolean) => number } | null;
}

/**
 * stdout as a sink. The process's own stdout is written by file-descriptor writes from libuv's
 * threads, one call per chunk, each waiting in the kernel for the reader: Node leaves a pipe on
 * stdout non-blocking and writes it from the main thread as the reader frees room, ~30 000 writes a
 * GiB into `| sha256sum` (which reads 32 KiB at a time), between the downloads' own work. So a
 * pipe or socket is made blocking again, as it was handed to us; a file (or /dev/null) Node writes
 * with the descriptor as it was opened. Anything else (a terminal, the tests' seam) is written as
 * the stream it is, each chunk a copy of its own.
 */
export function stdoutSink(stdout: CliIO['stdout']): ByteSink {
  const fd = blockingStdout(stdout as StdioStream);
  return fd === undefined ? streamSink(stdout) : fdSink(fd);
}

/** 1 when stdout is fd 1 and writes to it wait rather than fail with EAGAIN; else undefined. */
function blockingStdout(stdout: StdioStream): number | undefined {
  if (stdout.fd !== 1 || stdout.isTTY) return undefined;
  const handle = stdout._handle;
  // No handle: Node writes stdout synchronously with fs (a file, /dev/null), the fd left as opened.
  if (handle === undefined) return 1;
  if (typeof handle?.setBlocking === 'function' && handle.setBlocking(true) === 0) return 1;
  return undefined;
}

function fdSink(fd: number): ByteSink {
  const writeSome = (chunk: Buffer, offset: number) =>
    new Promise<number>((resolve, reject) =>
      write(fd, chunk, offset, chunk.length - offset, null, (error, written) =>
        // Non-blocking after all (another process's flag on a shared descriptor): try again.
        error && error.code !== 'EAGAIN' ? reject(error) : resolve(error ? 0 : written),
      ),
    );
  return {
    reuses: true,
    async write(chunk) {
      for (let offset = 0; offset < chunk.length;) {
        const written = await writeSome(chunk, offset);
        if (written === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        offset += written;
      }
    },
    end: async () => {},
  };
}

function streamSink(stdout: CliIO['stdout']): ByteSink {
  const stream = stdout as CliIO['stdout'] & Partial<EventEmitter> & { end?(callback: () => void): unknown };
  return {
    reuses: false,
    async write(chunk) {
      // Rejects with the stream's error (a closed pipe) instead of waiting for a drain that never comes.
      if (stream.write(chunk) === false && stream.on) await once(stream as EventEmitter, 'drain');
    },
    end: () =>
      new Promise<void>((resolve) => {
        if (stream.end) stream.end(resolve);
        else resolve();
      }),
  };
}
