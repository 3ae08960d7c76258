import type { CliIO } from '../io.js';

/** What every command's registration needs: where to write, and how to report its exit code. */
export interface CommandContext {
  io: CliIO;
  setExit(code: number): void;
}
