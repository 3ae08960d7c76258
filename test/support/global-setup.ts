import { execFileSync } from 'node:child_process';

/** Tests that run the real binary need dist/ to match src/: build once before any test file runs. */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
