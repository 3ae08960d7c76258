import { stripUrlAuth } from '../errors.js';
import type { FetchObserver } from '../fetch/engine.js';
import type { CliIO } from './io.js';
import type { TransferFlags } from './options.js';
import { ProgressLine } from './progress-line.js';

/** Observers for what the user asked to see: progress, `--verbose` request lines. */
export function observersFor(flags: TransferFlags, io: CliIO): { observer: FetchObserver; stop(): void } {
  const write = (line: string) => io.stderr.write(line);
  const progress = !flags.json && !flags.quiet && flags.progress ? new ProgressLine(write) : undefined;
  const observer: FetchObserver = {
    planned: (plan) => progress?.planned(plan),
    bytes: (fragment, url, bytes) => progress?.bytes(fragment, url, bytes),
    settled: () => progress?.settled(),
    ...(flags.verbose
      ? {
          request: (r) =>
            write(
              `GET ${stripUrlAuth(r.url)}${r.range ? ` ${r.range}` : ''} → ${r.status ?? '---'} ${r.bytes} B ${Math.round(r.ms)} ms${
                r.error instanceof Error ? ` (${r.error.message})` : ''
              }\n`,
            ),
          retry: (fragment, error, delayMs) =>
            write(
              `retry ${fragment.id} in ${Math.round(delayMs)} ms: ${error instanceof Error ? error.message : error}\n`,
            ),
        }
      : {}),
  };
  return { observer, stop: () => progress?.stop() };
}
