#!/usr/bin/env node
// The only place that calls process.exit: everything else returns an exit code.
// dist/cli is the bundled CLI (scripts/bundle.ts): one file to load instead of ~170 modules.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
