/**
 * `npm run bench`: fragfetch against curl --parallel and aria2c on the same files from a loopback
 * server, scenario by scenario, the tools alternating in each round (A B C, A B C, …). Prints a
 * markdown table of medians and ratios and writes the results as JSON (issue 7).
 *
 *   npm run bench -- --rounds 3 --scenarios bulk,small,throttled,warm,ranges --out results.json --keep
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import {
  defaultFixtureRoot,
  type FixtureGroup,
  prepareFixtures,
  primePageCache,
  removeFixtures,
} from './fixtures.js';
import { hasGnuTime, killRunning, measure } from './measure.js';
import { findNginx } from './nginx.js';
import {
  type BenchResults,
  evaluate,
  type MachineInfo,
  markdownReport,
  type RunRecord,
  type ScenarioResult,
  summariseRow,
} from './report.js';
import {
  buildScenario,
  FIXTURES_NEEDED,
  SCENARIO_NAMES,
  type ScenarioContext,
  type ScenarioName,
  THROTTLE_BYTES_PER_SECOND,
} from './scenarios.js';
import { type BenchServer, type ServerChoice, startServer } from './server.js';
import { probeTools } from './tools.js';

const execFileAsync = promisify(execFile);
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

const HELP = `Usage: npm run bench -- [options]

Benchmarks fragfetch fetch against curl --parallel and aria2c on loopback (issue 7).

Options:
  --rounds N            rounds per scenario, tools alternating within each (default 3)
  --scenarios LIST      comma-separated, from: ${SCENARIO_NAMES.join(', ')} (default: all)
  --out FILE            results JSON (default bench/results/latest.json; a .md beside it)
  --keep                keep the fixtures for the next run (default: delete them at the end)
  --fixtures DIR        fixture folder (default ${defaultFixtureRoot()})
  --server KIND         auto (nginx if installed, else the test CDN), nginx, or cdn (default auto)
  --no-install          never apt-get install missing tools, even as root
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
  timeoutMs: number;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      scenarios: { type: 'string', default: SCENARIO_NAMES.join(',') },
      out: { type: 'string', default: path.join(projectRoot, 'bench', 'results', 'latest.json') },
      keep: { type: 'boolean', default: false },
      fixtures: { type: 'string', default: defaultFixtureRoot() },
      server: { type: 'string', default: 'auto' },
      'no-install': { type: 'boolean', default: false },
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
    timeoutMs: timeout * 1000,
  };
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function commandExists(command: string, args: string[] = ['--version']): Promise<boolean> {
  try {
    await execFileAsync(command, args);
    return true;
  } catch {
    return false;
  }
}

/** As root, installs what is missing with apt-get; otherwise says what the run will do without it. */
async function ensureTools(allowInstall: boolean, notes: string[]): Promise<void> {
  const missing: string[] = [];
  if (!(await findNginx())) missing.push('nginx-light');
  if (!(await commandExists('aria2c'))) missing.push('aria2');
  if (!(await hasGnuTime())) missing.push('time');
  if (!(await commandExists('curl'))) missing.push('curl');
  if (missing.length === 0) return;
  const root = process.getuid?.() === 0;
  const apt = await commandExists('apt-get', ['--version']);
  if (!allowInstall || !root || !apt) {
    const why = !allowInstall ? '--no-install' : !root ? 'not root' : 'no apt-get';
    notes.push(`not installed (${why}): ${missing.join(', ')}; the comparisons that need them are skipped`);
    log(`missing ${missing.join(', ')} and not installing them (${why})`);
    return;
  }
  const install = (args: string[]) =>
    new Promise<number>((resolve) => {
      const child = spawn('apt-get', args, {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      child.once('error', () => resolve(1));
      child.once('close', (code) => resolve(code ?? 1));
    });
  log(`installing ${missing.join(', ')} with apt-get`);
  let code = await install(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  if (code !== 0) {
    await install(['update', '-qq']);
    code = await install(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  }
  if (code !== 0)
    notes.push(`apt-get install ${missing.join(' ')} failed; the comparisons that need them are skipped`);
}

async function fragfetchVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as {
    version: string;
  };
  try {
    const { stdout: head } = await execFileAsync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: projectRoot,
    });
    const { stdout: status } = await execFileAsync('git', ['status', '--porcelain', '--', 'src'], {
      cwd: projectRoot,
    });
    return `${pkg.version} (${head.trim()}${status.trim() ? ' + uncommitted changes in src/' : ''})`;
  } catch {
    return pkg.version;
  }
}

function machineInfo(
  server: BenchServer,
  tools: Awaited<ReturnType<typeof probeTools>>,
  gnuTime: boolean,
): MachineInfo {
  return {
    hostname: os.hostname(),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    memTotalGiB: os.totalmem() / 1024 ** 3,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    server: server.description,
    curl: tools.curl.version,
    aria2c: tools.aria2c.version,
    gnuTime,
  };
}

/** Lets writeback of the previous run's files finish, so it is not billed to the next run. */
function sync(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('sync', { stdio: 'ignore' });
    child.once('error', () => resolve());
    child.once('close', () => resolve());
  });
}

async function runScenario(
  name: ScenarioName,
  ctx: ScenarioContext,
  options: Options,
  gnuTime: boolean,
): Promise<ScenarioResult> {
  const scenario = await buildScenario(ctx, name);
  log(`[${name}] ${scenario.description}`);
  const runs = new Map<string, RunRecord[]>(scenario.rows.map((row) => [row.id, []]));
  const commands = new Map<string, string>();
  for (const row of scenario.rows) if (row.skip) log(`[${name}] ${row.label}: skipped (${row.skip})`);
  for (let round = 1; round <= options.rounds; round++) {
    const dir = await mkdtemp(path.join(ctx.workDir, `${name}-r${round}-`));
    try {
      for (const row of scenario.rows) {
        if (row.skip) continue;
        const prepared = await row.prepare({ dir });
        commands.set(row.id, prepared.argv.join(' '));
        await sync();
        const result = await measure(prepared.argv, {
          cwd: projectRoot,
          timeoutMs: options.timeoutMs,
          gnuTime,
        });
        const verdict = await prepared.verify(result);
        await prepared.cleanup();
        const { ok, problem, ...facts } = verdict;
        runs.get(row.id)!.push({
          round,
          seconds: result.seconds,
          rssKiB: result.rssKiB,
          ok,
          ...(problem === undefined ? {} : { problem }),
          ...facts,
        });
        const rss = result.rssKiB === null ? '' : `, peak RSS ${(result.rssKiB / 1024).toFixed(0)} MiB`;
        const extra = verdict.requests === undefined ? '' : `, ${verdict.requests} requests`;
        log(
          `[${name}] round ${round}/${options.rounds} ${row.label}: ${result.seconds.toFixed(2)} s${rss}${extra}${ok ? '' : ` — FAILED: ${problem}`}`,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const rows = scenario.rows.map((row) => summariseRow(row, runs.get(row.id) ?? [], commands.get(row.id)));
  return evaluate(scenario, rows);
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
  await ensureTools(options.install, notes);
  const gnuTime = await hasGnuTime();
  const tools = await probeTools(await fragfetchVersion());

  const groups = [...new Set(options.scenarios.flatMap((name) => FIXTURES_NEEDED[name]))] as FixtureGroup[];
  const fixtures = await prepareFixtures(options.fixtures, groups, log);
  log('reading the fixtures once, so every tool finds them in the page cache');
  await primePageCache(fixtures);

  const workDir = await mkdtemp(path.join(os.tmpdir(), 'fragfetch-bench-run-'));
  const probe = Object.values(fixtures.groups)[0]?.files[0]?.path;
  if (!probe) throw new Error('no fixture to serve');
  const server = await startServer({
    choice: options.server,
    root: fixtures.root,
    throttledDir: path.join(fixtures.root, 'big'),
    throttleBytesPerSecond: THROTTLE_BYTES_PER_SECOND,
    probePath: probe,
  });
  if (server.note) {
    notes.push(server.note);
    log(server.note);
  }
  log(`serving ${fixtures.root} from ${server.description} at ${server.origin}`);

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
  const date = new Date().toISOString();
  try {
    const ctx: ScenarioContext = { projectRoot, origin: server.origin, fixtures, tools, workDir };
    for (const name of options.scenarios) {
      if (interrupted) break;
      scenarios.push(await runScenario(name, ctx, options, gnuTime));
    }
  } finally {
    await server.stop().catch(() => {});
    await rm(workDir, { recursive: true, force: true });
    if (!options.keep) await removeFixtures(fixtures.root);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (interrupted) return 130;

  notes.push(
    'Ratios are of medians from the same run; absolute times on a shared 2-core VM are noise-prone.',
    'The page cache is not dropped between runs: fixtures are served from memory, outputs go through the page cache (sync between runs).',
    'fragfetch verifies sha256 of every fragment and stores it in cacache; curl and aria2c verify nothing (only sizes are checked afterwards).',
  );
  if (!gnuTime) notes.push('GNU time (/usr/bin/time) is missing: no peak RSS.');
  const results: BenchResults = {
    date,
    fragfetch: tools.fragfetch.version,
    machine: machineInfo(server, tools, gnuTime),
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
