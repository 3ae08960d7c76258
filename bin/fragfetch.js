#!/usr/bin/env node
// The only place that calls process.exit: everything else returns an exit code.
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
