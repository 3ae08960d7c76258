/**
 * Help, version and usage errors of the real binary, at a fixed width (COLUMNS=80 in a pipe) so the
 * wrapped text is the same everywhere. When a command is added or its options change, review the
 * snapshot diff and update it with `npx vitest run test/cli/help.test.ts -u`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runPiped } from './run-bin.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The commands `fragfetch --help` lists, as the words to type (`manifest create`), help itself aside. */
function listedCommands(help: string): string[] {
  const section = help.split('\nCommands:\n')[1]?.split('\n\n')[0] ?? '';
  return section
    .split('\n')
    .filter((line) => /^ {2}[a-z]/.test(line))
    .map((line) => (line.trim().split(/\s{2,}/)[0] ?? '').split(' '))
    .map((term) => term.filter((word) => !/^[<[]/.test(word)).join(' '))
    .filter((name) => name !== 'help');
}

describe('help', () => {
  it('fragfetch --help lists every command with a one-line description', async () => {
    const result = await runPiped(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const commands = listedCommands(result.stdout);
    expect(commands).toEqual(expect.arrayContaining(['fetch', 'manifest create', 'manifest validate']));
    // No group without its commands: `manifest` alone does nothing.
    expect(commands).not.toContain('manifest');
    expect(result.stdout).toMatchSnapshot();
  });

  it('`fragfetch help` and `fragfetch` with no command print the same list', async () => {
    const help = await runPiped(['--help']);
    expect((await runPiped(['help'])).stdout).toBe(help.stdout);
  });

  it.each(['fetch', 'manifest create', 'manifest validate'])(
    'fragfetch %s --help shows its options and examples',
    async (command) => {
      const result = await runPiped([...command.split(' '), '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatchSnapshot();
    },
  );

  it('every listed command has a --help with two or three examples', async () => {
    const commands = listedCommands((await runPiped(['--help'])).stdout);
    for (const command of commands) {
      const result = await runPiped([...command.split(' '), '--help']);
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).toMatch(new RegExp(`^Usage: fragfetch ${command} `));
      const examples = result.stdout
        .split('\n')
        .filter((line) => line.startsWith(`  $ fragfetch ${command}`));
      expect(examples.length, `${command} examples`).toBeGreaterThanOrEqual(2);
      expect(examples.length, `${command} examples`).toBeLessThanOrEqual(3);
    }
  });

  it('fetch --help shows the default of every option that has one', async () => {
    const { stdout } = await runPiped(['fetch', '--help']);
    const flat = stdout.replace(/\s+/g, ' ');
    for (const option of [
      'fewer when a server is overloaded (default: 16)',
      'the most requests in flight -j auto may reach (default: 64)',
      '(choices: "fastest", "listed", default: "fastest")',
      '(default: 5)',
      '(default: 30s)',
      '(default: 8MiB)',
      '(default: 16MiB)',
      'connections for one large object (default: 16)',
      '(default: $FRAGFETCH_CACHE, else the user cache folder)',
    ]) {
      expect(flat).toContain(option);
    }
  });

  it('names every environment variable a user may need, a private CA and proxies included', async () => {
    const { stdout } = await runPiped(['--help']);
    const section = stdout.split('\nEnvironment:\n')[1] ?? '';
    const named = section
      .split('\n')
      .flatMap((line) => line.match(/^ {2}([A-Z_]+(?:, [A-Z_]+)*)/)?.[1]?.split(', ') ?? []);
    expect(named).toEqual(
      expect.arrayContaining([
        'HTTPS_PROXY',
        'HTTP_PROXY',
        'ALL_PROXY',
        'NO_PROXY',
        'NODE_EXTRA_CA_CERTS',
        'FRAGFETCH_CA_FILE',
        'FRAGFETCH_TOKEN',
        'FRAGFETCH_MAX_CACHE_SIZE',
        'FRAGFETCH_CACHE',
      ]),
    );
    expect(section).toMatch(/NODE_EXTRA_CA_CERTS .*private CA/);
    for (const line of stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });

  it("`fragfetch help <command...>` prints that command's help, nested ones too", async () => {
    for (const command of ['fetch', 'cache prune', 'manifest create']) {
      const help = await runPiped(['help', ...command.split(' ')]);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toBe((await runPiped([...command.split(' '), '--help'])).stdout);
    }
  });

  it('--version and -V print the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const result = await runPiped([flag]);
      expect(result).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    }
  });
});

describe('usage errors', () => {
  const STACK = /\n\s+at /;

  it.each([
    [['frobnicate'], "fragfetch: unknown command 'frobnicate'", 'usage: fragfetch [options] [command]'],
    [
      ['verify'],
      "fragfetch: unknown command 'verify' (did you mean cache verify?)",
      'usage: fragfetch [options] [command]',
    ],
    [['fech', 'm.json'], "fragfetch: unknown command 'fech' (did you mean fetch?)", 'usage: fragfetch'],
    [
      ['cache', 'verfy'],
      "fragfetch: unknown command 'verfy' (did you mean cache verify?)",
      'usage: fragfetch cache [options] [command]',
    ],
    [['help', 'nosuch'], "fragfetch: unknown command 'nosuch'", 'usage: fragfetch [options] [command]'],
    [
      ['help', 'manifest', 'creat'],
      "fragfetch: unknown command 'creat' (did you mean manifest create?)",
      'usage: fragfetch manifest',
    ],
    [
      ['fetch'],
      "fragfetch: missing required argument 'manifest'",
      'usage: fragfetch fetch [options] <manifest>',
    ],
    [['fetch', 'm.json', '--bogus'], "fragfetch: unknown option '--bogus'", 'usage: fragfetch fetch'],
    [
      ['fetch', 'm.json', '--concurrency', 'zero'],
      'fragfetch: --concurrency: invalid number "zero": expected a whole number of at least 1',
      'usage: fragfetch fetch',
    ],
    [
      ['fetch', 'm.json', '-j', '0'],
      'fragfetch: --concurrency: invalid number "0"',
      'usage: fragfetch fetch',
    ],
    [
      ['fetch', 'm.json', '--stall-timeout', '5 parsecs'],
      'fragfetch: --stall-timeout: invalid duration "5 parsecs"',
      'usage: fragfetch fetch',
    ],
    [
      ['fetch', 'm.json', '--limit-rate', 'fast'],
      'fragfetch: --limit-rate: invalid size "fast"',
      'usage: fragfetch fetch',
    ],
    [
      ['fetch', 'm.json', '-H', 'no colon'],
      'fragfetch: --header: invalid header "no colon"',
      'usage: fragfetch fetch',
    ],
    [
      ['manifest', 'create', 'dir'],
      "fragfetch: required option '--base-url <url>' not specified",
      'usage: fragfetch manifest create',
    ],
  ])('%j exits 2 with one line and the usage line', async (argv, message, usage) => {
    const result = await runPiped(argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(message);
    expect(lines[1]).toMatch(new RegExp(`^${usage.replace(/[[\]]/g, '\\$&')}.*--help for more\\)$`));
    expect(result.stderr).not.toMatch(STACK);
  });

  it('with --json, a usage error is also one JSON document on stdout', async () => {
    const result = await runPiped(['fetch', 'm.json', '--json', '--stall-timeout', '5 parsecs']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: false,
      error: { code: 'EUSAGE', message: expect.stringContaining('--stall-timeout: invalid duration') },
    });
  });

  it('prints a stack trace only with --verbose or DEBUG', async () => {
    const missing = '/nonexistent/fragfetch/manifest.json';
    const quiet = await runPiped(['fetch', missing, '--cache', '/nonexistent/cache']);
    expect(quiet.code).not.toBe(0);
    expect(quiet.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(quiet.stderr).toMatch(/^fragfetch: .*manifest\.json/);
    expect(quiet.stderr).not.toMatch(STACK);
    for (const [argv, env] of [
      [['--verbose'], {}],
      [[], { DEBUG: '1' }],
    ] as const) {
      const loud = await runPiped(['fetch', missing, '--cache', '/nonexistent/cache', ...argv], env);
      expect(loud.code).toBe(quiet.code);
      expect(loud.stderr).toMatch(STACK);
    }
  });
});
