import { execFileSync } from 'node:child_process';

/**
 * Tests that run the real binary need dist/ to match src/: build once before any test file runs,
 * as `npm run build` does — tsc, then the bundle bin/fragfetch.js runs (scripts/bundle.ts).
 */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
  execFileSync(process.execPath, ['dist/scripts/bundle.js'], { stdio: 'inherit' });
}
