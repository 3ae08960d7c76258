import { FragfetchError } from '../errors.js';
import { EXIT } from './io.js';
import { run } from './program.js';

/**
 * The process wiring: real streams and environment, and signals turned into an abort. A second
 * Ctrl-C exits at once, as users of curl and aria2 expect.
 */
export async function main(argv: string[]): Promise<number> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    // Abort first: progress bars take themselves down on it, and would otherwise draw over the notice.
    controller.abort(new FragfetchError('EABORT', `interrupted by ${signal}`));
    process.stderr.write(`\nfragfetch: ${signal}, stopping (partial downloads are kept for the next run)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `fragfetch --help | head`: a reader that went away is not our failure, and no stack trace.
  process.stdout.on('error', ignoreEpipe);
  try {
    return await run(argv, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      signal: controller.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function ignoreEpipe(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPIPE') throw error;
}
