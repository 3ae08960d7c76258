import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { isFragfetchError } from '../../errors.js';
import { createLoader } from '../../loader/loader.js';
import { type CliIO, EXIT } from '../io.js';
import { type TransferFlags, transferOptions } from '../options.js';
import type { CommandContext } from './context.js';
import { fetchOptionsOf } from './fetch.js';

/** A closed pipe (`| head -c 100`): the reader has what it wanted. */
function isClosedPipe(error: unknown): boolean {
  return (error as { code?: string } | undefined)?.code === 'EPIPE';
}

/**
 * `fragfetch cat <manifest> <id>`: one fragment's bytes to stdout in order while its ranges download
 * in parallel; verified before the stream ends (a failure after bytes went out exits 1 with its code).
 */
export async function catCommand(
  source: string,
  id: string,
  flags: TransferFlags,
  io: CliIO,
): Promise<number> {
  const { cacheDir, ...options } = fetchOptionsOf(flags, io);
  const loader = createLoader({ ...options, cache: cacheDir });
  // Node writes to a pipe on stdout synchronously: each write waited for the reader (`| sha256sum`) with
  // the downloads stopped, 2-3 × the time of a fetch. Through fs, the writes wait in libuv's threads.
  const out = (
    io.stdout === process.stdout
      ? createWriteStream('', { fd: 1, autoClose: false, highWaterMark: 4 << 20 })
      : io.stdout
  ) as Partial<Writable> & { write(chunk: Buffer): boolean };
  const stream = loader.read(source, id, { signal: io.signal });
  let closed = false;
  const onError = (error: unknown) => {
    if (isClosedPipe(error)) closed = true;
  };
  out.on?.('error', onError);
  try {
    for await (const chunk of stream) {
      if (closed) break;
      if (!out.write(chunk as Buffer) && out.once) await once(out as Writable, 'drain');
    }
    if (out.end && !closed) await new Promise<void>((resolve) => out.end!(() => resolve()));
  } catch (error) {
    if (closed || isClosedPipe(error)) return EXIT.ok;
    if (io.signal.aborted) return EXIT.interrupted;
    // A bad manifest or id is a usage error (exit 2), said as every command says it.
    if (isFragfetchError(error, 'EUSAGE') || isFragfetchError(error, 'EMANIFEST')) throw error;
    io.stderr.write(`fragfetch: ${(error as Error).message}\n`);
    return EXIT.failed;
  } finally {
    out.off?.('error', onError);
    stream.destroy();
  }
  return EXIT.ok;
}

export function registerCat(program: Command, { io, setExit }: CommandContext): void {
  const command = program
    .command('cat')
    .summary("write one fragment's bytes to stdout, in order, as its ranges download")
    .description(
      "Write one fragment's bytes to stdout in order while its ranges download in parallel; the fragment " +
        'is verified and cached as `fetch` would. A closed pipe stops the download, exit 0.',
    )
    .argument('<manifest>', 'manifest file or http(s) URL')
    .argument('<id>', 'the fragment id');
  for (const option of transferOptions()) command.addOption(option);
  command
    .addHelpText(
      'after',
      `
Examples:
  $ fragfetch cat model.json model.safetensors:__header__ | head -c 8 | od -An -tu8
  $ fragfetch cat https://cdn.example.com/tiny/manifest.json embed | sha256sum`,
    )
    .action(async (source: string, id: string, flags: TransferFlags) =>
      setExit(await catCommand(source, id, flags, io)),
    );
}
