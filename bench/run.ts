/**
 * `npm run bench`: fragfetch against curl --parallel and aria2c on the same files from a loopback
 * server, plain http and https, scenario by scenario, the tools alternating in each round (A B C,
 * A B C, …). Prints a markdown table of medians and ratios and writes the results as JSON (issues 7
 * and 14).
 *
 *   npm run bench -- --rounds 3 --scenarios bulk,https-bulk,small,https-small --out results.json --keep
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  defaultFixtureRoot,
  type FixtureGroup,
  prepareFixtures,
  primePageCache,
  removeFixtures,
} from './fixtures.js';
import { hasGnuTime, killRunning, measure } from './measure.js';
import {
  type BenchResults,
  evaluate,
  markdownReport,
  type RunRecord,
  type ScenarioResult,
  summariseRow,
} from './report.js';
import {
  buildScenario,
  FIXTURES_NEEDED,
  type Scenario,
  SCENARIO_NAMES,
  type ScenarioContext,
  type ScenarioName,
  LINK_THROTTLE_BYTES_PER_SECOND,
  SLOW_MIRROR_BYTES_PER_SECOND,
  THROTTLE_BYTES_PER_SECOND,
} from './scenarios.js';
import { PROBE_FILES, settleFileSystem } from './settle.js';
import { type BenchServer, noServer, type ServerChoice, startServer } from './server.js';
import { describeFileSystem } from './file-system.js';
import { ensureTools, fragfetchVersion, machineInfo, sync } from './setup.js';
import { probeTools } from './tools.js';
import { describeTraffic } from './traffic.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

const HELP = `Usage: npm run bench -- [options]

Benchmarks fragfetch fetch against curl --parallel and aria2c on loopback, over
http and https (issues 7 and 14).

Options:
  --rounds N            rounds per scenario, tools alternating within each (default
                        $BENCH_ROUNDS, else 3)
  --scenarios LIST      comma-separated, from: ${SCENARIO_NAMES.join(', ')} (default
                        $BENCH_SCENARIOS, else all)
  --out FILE            results JSON (default bench/results/latest.json; a .md beside it)
  --keep                keep the fixtures for the next run (default: delete them at the end)
  --fixtures DIR        fixture folder (default ${defaultFixtureRoot()})
  --server KIND         auto (nginx if installed, else the test CDN), nginx, or cdn (default auto)
  --no-install          never apt-get install missing tools, even as root
  --no-release          keep each run's files in the page cache until the scenario
                        ends, instead of truncating them after the check (how the
                        harness ran before 2026-12-03; see bench/README.md)
  --timeout SECONDS     longest one run may take before it is killed (default 900)
  -h, --help            this help
`;

interface Options {
  rounds: number;
  scenarios: ScenarioName[];
  out: string;
  keep: boolean;
  fixtures: string;
  server: ServerChoice;
  install: boolean;
  release: boolean;
  timeoutMs: number;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: process.env.BENCH_ROUNDS || '3' },
      scenarios: { type: 'string', default: process.env.BENCH_SCENARIOS || SCENARIO_NAMES.join(',') },
      out: { type: 'string', default: path.join(projectRoot, 'bench', 'results', 'latest.json') },
      keep: { type: 'boolean', default: false },
      fixtures: { type: 'string', default: defaultFixtureRoot() },
      server: { type: 'string', default: 'auto' },
      'no-install': { type: 'boolean', default: false },
      'no-release': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '900' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a whole number ≥ 1`);
  const scenarios = values.scenarios
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of scenarios) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
      throw new Error(`--scenarios: unknown "${name}" (from: ${SCENARIO_NAMES.join(', ')})`);
    }
  }
  if (!['auto', 'nginx', 'cdn'].includes(values.server)) throw new Error('--server: auto, nginx or cdn');
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) throw new Error('--timeout: expected seconds > 0');
  return {
    rounds,
    scenarios: [...new Set(scenarios)] as ScenarioName[],
    out: path.resolve(values.out),
    keep: values.keep,
    fixtures: path.resolve(values.fixtures),
    server: values.server as ServerChoice,
    install: !values['no-install'],
    release: !values['no-release'],
    timeoutMs: timeout * 1000,
  };
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function runScenario(
  name: ScenarioName,
  ctx: ScenarioContext,
  server: BenchServer,
  options: Options,
  gnuTime: boolean,
  stopped: () => boolean,
  deferred: (() => Promise<void>)[],
): Promise<ScenarioResult> {
  const scenario = await buildScenario(ctx, name);
  try {
    return await runRounds(name, scenario, server, options, gnuTime, stopped, ctx.workDir, deferred);
  } finally {
    await scenario.stop?.();
  }
}

async function runRounds(
  name: ScenarioName,
  scenario: Scenario,
  server: BenchServer,
  options: Options,
  gnuTime: boolean,
  stopped: () => boolean,
  workDir: string,
  deferred: (() => Promise<void>)[],
): Promise<ScenarioResult> {
  log(`[${name}] ${scenario.description}`);
  const runs = new Map<string, RunRecord[]>(scenario.rows.map((row) => [row.id, []]));
  const commands = new Map<string, string>();
  for (const row of scenario.rows) if (row.skip) log(`[${name}] ${row.label}: skipped (${row.skip})`);
  // What the runs wrote is deleted when the bench ends, not after each run nor each scenario:
  // deleting one run's files just before the next run billed that run for the previous tool's
  // cleanup, and a scenario's deletions made the next scenario's runs create files at half speed
  // for minutes, while settle.ts's probe of 1000 files already passed (settle.ts). Released files
  // (truncated to zero) hold inodes only; kept in full (`--no-release`), they go with their scenario.
  const settle = await settleFileSystem(workDir, (line) => log(`[${name}] ${line}`), stopped);
  log(
    `[${name}] file system: ${PROBE_FILES} files created in ${settle.probeMs.toFixed(0)} ms` +
      (settle.waitedSeconds > 0 ? ` after waiting ${settle.waitedSeconds} s` : '') +
      (settle.settled ? '' : ' — NOT settled, times of many small files will be high'),
  );
  const cleanups: (() => Promise<void>)[] = [];
  try {
    for (let round = 1; round <= options.rounds && !stopped(); round++) {
      const dir = await mkdtemp(path.join(workDir, `${name}-r${round}-`));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      for (const row of scenario.rows) {
        if (row.skip || stopped()) continue;
        const prepared = await row.prepare({ dir });
        commands.set(row.id, prepared.argv.join(' '));
        await sync();
        const seen = await server.watch();
        const result = await measure(prepared.argv, {
          cwd: projectRoot,
          timeoutMs: options.timeoutMs,
          gnuTime,
        });
        const traffic = await seen();
        const verdict = await prepared.verify(result);
        cleanups.push(() => prepared.cleanup());
        if (options.release) await prepared.release();
        const { ok, problem, ...facts } = verdict;
        runs.get(row.id)!.push({
          round,
          seconds: result.seconds,
          rssKiB: result.rssKiB,
          ok,
          ...(problem === undefined ? {} : { problem }),
          ...facts,
          traffic,
        });
        const rss = result.rssKiB === null ? '' : `, peak RSS ${(result.rssKiB / 1024).toFixed(0)} MiB`;
        const counted = verdict.serverRequests === undefined ? '' : ` (server: ${verdict.serverRequests})`;
        const extra =
          (verdict.requests === undefined ? '' : `, ${verdict.requests} requests${counted}`) +
          Object.entries(verdict.metrics ?? {})
            .map(([metric, value]) => `, ${metric} ${value.toFixed(1)}`)
            .join('');
        log(
          `[${name}] round ${round}/${options.rounds} ${row.label}: ${result.seconds.toFixed(2)} s${rss}${extra}; ${describeTraffic(traffic)}${ok ? '' : ` — FAILED: ${problem}`}`,
        );
      }
    }
  } finally {
    if (options.release) deferred.push(...cleanups);
    else for (const cleanup of cleanups.reverse()) await cleanup();
  }
  const rows = scenario.rows.map((row) => summariseRow(row, runs.get(row.id) ?? [], commands.get(row.id)));
  return { ...evaluate(scenario, rows), fileSystem: settle };
}

async function main(): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (!options) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!existsSync(path.join(projectRoot, 'dist', 'src', 'cli', 'main.js'))) {
    process.stderr.write('bench: dist/ is missing; run it as `npm run bench` (which builds first)\n');
    return 2;
  }

  const notes: string[] = [];
  const groups = [...new Set(options.scenarios.flatMap((name) => FIXTURES_NEEDED[name]))] as FixtureGroup[];
  // Scenarios that serve no file (manifest-scale) need no server, no fixtures and no tool installed.
  const serving = groups.length > 0;
  if (serving) await ensureTools(options.install, notes);
  const gnuTime = await hasGnuTime();
  const tools = await probeTools(await fragfetchVersion(projectRoot));

  const fixtures = serving
    ? await prepareFixtures(options.fixtures, groups, log)
    : { root: options.fixtures, groups: {}, generated: [] };
  if (serving) {
    log('reading the fixtures once, so every tool finds them in the page cache');
    await primePageCache(fixtures);
  }

  const workDir = await mkdtemp(path.join(os.tmpdir(), 'fragfetch-bench-run-'));
  const outputFileSystem = await describeFileSystem(workDir);
  if (outputFileSystem) log(`every tool writes to ${workDir}: ${outputFileSystem}`);
  const probe = Object.values(fixtures.groups)[0]?.files[0]?.path;
  if (serving && !probe) throw new Error('no fixture to serve');
  const server = serving
    ? await startServer({
        choice: options.server,
        root: fixtures.root,
        throttledDir: path.join(fixtures.root, 'big'),
        throttleBytesPerSecond: THROTTLE_BYTES_PER_SECOND,
        linkThrottleBytesPerSecond: LINK_THROTTLE_BYTES_PER_SECOND,
        slowMirrorBytesPerSecond: SLOW_MIRROR_BYTES_PER_SECOND,
        probePath: probe!,
        pkiDir: path.join(workDir, 'pki'),
      })
    : noServer();
  if (server.note) {
    notes.push(server.note);
    log(server.note);
  }
  if (serving) {
    log(`serving ${fixtures.root} from ${server.description} at ${server.origin} and ${server.tlsOrigin}`);
  }

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: stopping the running tool and cleaning up');
    killRunning();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const scenarios: ScenarioResult[] = [];
  /** What the scenarios' runs wrote, deleted when the bench ends (runRounds). */
  const deferred: (() => Promise<void>)[] = [];
  const date = new Date().toISOString();
  // Other work on the machine skews absolute times (and, less, ratios): recorded with the results.
  const loadBefore = os.loadavg();
  try {
    const ctx: ScenarioContext = {
      projectRoot,
      origin: server.origin,
      tlsOrigin: server.tlsOrigin,
      slowTlsOrigin: server.slowTlsOrigin,
      caFile: server.caFile,
      fixtures,
      tools,
      workDir,
      serverRequests: () => server.requests(),
    };
    for (const name of options.scenarios) {
      if (interrupted) break;
      scenarios.push(await runScenario(name, ctx, server, options, gnuTime, () => interrupted, deferred));
    }
  } finally {
    await server.stop().catch(() => {});
    for (const cleanup of deferred.reverse()) await cleanup().catch(() => {});
    await rm(workDir, { recursive: true, force: true });
    if (!options.keep && serving) await removeFixtures(fixtures.root);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (interrupted) return 130;

  notes.push(
    'Ratios are of medians from the same run; absolute times on a shared 2-core VM are noise-prone.',
    options.release
      ? "Fixtures are served from the page cache; each run's files are truncated to zero after its check (page cache freed, inodes kept: bench/release.ts) and deleted when the bench ends; sync before each run."
      : "--no-release: each run's files stay in the page cache until the scenario ends (the harness before 2026-12-03), so later runs write into memory this VM is slow to touch.",
    'fragfetch verifies sha256 of every fragment and stores it in cacache; curl and aria2c verify nothing (only sizes are checked afterwards).',
  );
  if (!gnuTime) notes.push('GNU time (/usr/bin/time) is missing: no peak RSS.');
  const results: BenchResults = {
    date,
    fragfetch: tools.fragfetch.version,
    machine: {
      ...machineInfo(server, tools, gnuTime),
      ...(outputFileSystem ? { outputFileSystem } : {}),
      load: { before: loadBefore, after: os.loadavg() },
    },
    server: {
      kind: server.kind,
      description: server.description,
      ...(server.note ? { note: server.note } : {}),
    },
    rounds: options.rounds,
    scenarios,
    notes,
  };
  const markdown = markdownReport(results);
  await mkdir(path.dirname(options.out), { recursive: true });
  await writeFile(options.out, `${JSON.stringify(results, null, 2)}\n`);
  const mdFile = options.out.replace(/\.json$/i, '') + '.md';
  await writeFile(mdFile, markdown);
  process.stdout.write(`\n${markdown}\n`);
  log(`results: ${options.out} and ${mdFile}`);
  const missed = scenarios.flatMap((s) =>
    s.targets.filter((t) => t.met === false).map((t) => `${s.name}: ${t.label}`),
  );
  if (missed.length) log(`targets missed: ${missed.join('; ')}`);
  return 0;
}

process.exitCode = await main();
