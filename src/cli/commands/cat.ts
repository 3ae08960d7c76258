import type { Command } from 'commander';
import { isFragfetchError } from '../../errors.js';
import type { FragmentBytes } from '../../loader/fragment-bytes.js';
import { createLoader } from '../../loader/loader.js';
import { type CliIO, EXIT } from '../io.js';
import { type TransferFlags, transferOptions } from '../options.js';
import { type ByteSink, stdoutSink } from './cat-output.js';
import type { CommandContext } from './context.js';
import { fetchOptionsOf } from './fetch.js';

/**
 * Bytes per read and write: one write call where the pipe's reader takes 32–64 KiB at a time, while
 * a read of the next is never more than one chunk behind the download.
 */
const CHUNK_BYTES = 1024 * 1024;

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
  const bytes = loader.open(source, id, { signal: io.signal });
  try {
    const sink = stdoutSink(io.stdout);
    await copy(bytes, sink);
    await sink.end();
  } catch (error) {
    if (isClosedPipe(error)) return EXIT.ok;
    if (io.signal.aborted) return EXIT.interrupted;
    // A bad manifest or id is a usage error (exit 2), said as every command says it.
    if (isFragfetchError(error, 'EUSAGE') || isFragfetchError(error, 'EMANIFEST')) throw error;
    io.stderr.write(`fragfetch: ${(error as Error).message}\n`);
    return EXIT.failed;
  } finally {
    await bytes.close();
  }
  return EXIT.ok;
}

/**
 * Reads the next chunk while the last is being written, into two buffers taken in turn when the
 * sink copies them: a GiB through fresh buffers is a GiB of garbage, which a slow reader keeps alive
 * long enough to need the major collector.
 */
async function copy(bytes: FragmentBytes, sink: ByteSink): Promise<void> {
  const buffers = sink.reuses ? [Buffer.allocUnsafe(CHUNK_BYTES), Buffer.allocUnsafe(CHUNK_BYTES)] : [];
  let writing: Promise<void> = Promise.resolve();
  for (let turn = 0; ; turn ^= 1) {
    // This buffer's last write was awaited before the write after it began.
    const buffer = buffers[turn] ?? Buffer.allocUnsafe(CHUNK_BYTES);
    // Both settle before either outcome is acted on: neither rejection is left unobserved.
    const [length] = await Promise.all([bytes.read(buffer), writing]);
    if (length === 0) return;
    writing = sink.write(buffer.subarray(0, length));
  }
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
