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
    process.stderr.write(`\nfragfetch: ${signal}, stopping (partial downloads are kept for the next run)\n`);
    controller.abort(new FragfetchError('EABORT', `interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
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
