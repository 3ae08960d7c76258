/**
 * The rows of a scenario: one tool's invocation on a workload, prepared afresh for each round in a
 * folder of its own, checked after the run, its files released (release.ts) before the next run and
 * deleted when the bench ends (run.ts).
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { RunResult } from './measure.js';
import { releaseFiles } from './release.js';
import {
  aria2Argv,
  aria2Label,
  curlArgv,
  curlLabel,
  type CurlVariant,
  fragfetchArgv,
  type ToolId,
} from './tools.js';
import { type FragfetchJson, fragfetchVerdict, outputVerdict, type Verdict } from './verdict.js';
import type { ScenarioContext, Workload } from './workload.js';

export interface PreparedRun {
  argv: string[];
  verify(result: RunResult): Promise<Verdict>;
  /** After `verify`: frees the page cache of what the run wrote, keeping its files' inodes. */
  release(): Promise<void>;
  /** Deletes what the run wrote (outputs, a cold cache), when the bench ends (run.ts). */
  cleanup(): Promise<void>;
}

/** A folder of its own for each round; removed when the round ends. */
export interface RoundContext {
  dir: string;
}

export interface Row {
  id: string;
  tool: ToolId;
  label: string;
  /** Set when the row is not run: the tool is missing or has no equivalent. */
  skip?: string;
  prepare(round: RoundContext): Promise<PreparedRun>;
}

/** What a run wrote, in one folder: released after the check, deleted at the end. */
function outputs(dir: string): Pick<PreparedRun, 'release' | 'cleanup'> {
  return {
    release: async () => {
      await releaseFiles(dir);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Figures of a run other tools' rows report (Verdict.metrics), from what the harness measured. */
export type RunMetrics = (result: RunResult) => Record<string, number>;

/**
 * `fragfetch fetch` with its defaults; `http2` adds `--http2` (an https workload only), `args`
 * other options (the row's id is then to be given); `metrics` reads figures from its report.
 */
export function fragfetchRow(
  ctx: ScenarioContext,
  load: Workload,
  fragments: number,
  variant: {
    http2?: boolean;
    id?: string;
    args?: readonly string[];
    metrics?: (report: FragfetchJson) => Record<string, number>;
  } = {},
): Row {
  const tls = load.tls && { ...load.tls, http2: variant.http2 === true };
  const id = variant.id ?? (variant.http2 ? 'fragfetch-http2' : 'fragfetch');
  const args = [...(variant.http2 ? ['--http2'] : []), ...(variant.args ?? [])];
  return {
    id,
    tool: 'fragfetch',
    label: ['fragfetch fetch', ...args].join(' '),
    prepare: async (round) => {
      const cache = path.join(round.dir, `${id}-cache`);
      return {
        argv: fragfetchArgv(ctx.projectRoot, load.manifestPath, cache, tls, variant.args),
        verify: async (result) =>
          fragfetchVerdict(result, { fragments, bytes: load.bytes, warm: false }, variant.metrics),
        ...outputs(cache),
      };
    },
  };
}

export function curlRow(
  ctx: ScenarioContext,
  load: Workload,
  label = curlLabel(),
  variant: CurlVariant & { metrics?: RunMetrics } = {},
): Row {
  const info = ctx.tools.curl;
  return {
    id: 'curl',
    tool: 'curl',
    label,
    ...(info.available ? {} : { skip: info.version }),
    prepare: async (round) => {
      const out = path.join(round.dir, 'curl-out');
      await mkdir(out, { recursive: true });
      return {
        argv: await curlArgv(load.transfers, out, path.join(round.dir, 'curl.config'), load.tls, variant),
        verify: (result) => outputVerdict(result, out, load.transfers, variant.metrics),
        ...outputs(out),
      };
    },
  };
}

/** `aria2c -j 16` on the workload; `variant.args` are further options, shown in the label. */
export function aria2Row(
  ctx: ScenarioContext,
  load: Workload,
  skip?: string,
  variant: { args?: readonly string[]; metrics?: RunMetrics } = {},
): Row {
  const info = ctx.tools.aria2c;
  const reason = skip ?? (info.available ? undefined : info.version);
  return {
    id: 'aria2c',
    tool: 'aria2c',
    label: [aria2Label(load.single), ...(variant.args ?? [])].join(' '),
    ...(reason === undefined ? {} : { skip: reason }),
    prepare: async (round) => {
      const out = path.join(round.dir, 'aria2c-out');
      await mkdir(out, { recursive: true });
      return {
        argv: await aria2Argv(
          load.transfers,
          out,
          path.join(round.dir, 'aria2c.input'),
          load.single,
          load.tls,
          variant.args,
        ),
        verify: (result) => outputVerdict(result, out, load.transfers, variant.metrics),
        ...outputs(out),
      };
    },
  };
}

/** What a cat row pipes into: a command that prints the sha256 of its stdin in hex first. */
export interface CatConsumer {
  id: string;
  label: string;
  command: string;
}

/** coreutils' sha256sum: the issue's consumer, without SHA extensions here (~195 MB/s, one core). */
export const SHA256SUM: CatConsumer = { id: 'fragfetch-cat', label: 'sha256sum', command: 'sha256sum' };

/** OpenSSL's digest with SHA extensions (~900 MB/s here): a consumer that keeps up with the link. */
export const OPENSSL_SHA256: CatConsumer = {
  id: 'fragfetch-cat-openssl',
  label: 'openssl dgst -sha256',
  command: 'openssl dgst -sha256 -r',
};

/**
 * `fragfetch cat <manifest> <id> | <consumer>`: one fragment streamed in order while its ranges
 * download; verified by the digest of what came out of the pipe.
 */
export function catRow(ctx: ScenarioContext, load: Workload, sri: string, consumer: CatConsumer): Row {
  const expected = Buffer.from(sri.replace(/^sha256-/, ''), 'base64').toString('hex');
  const id = load.transfers[0]!.name;
  return {
    id: consumer.id,
    tool: 'fragfetch',
    label: `fragfetch cat, piped to ${consumer.label}`,
    prepare: async (round) => {
      const cache = path.join(round.dir, `${consumer.id}-cache`);
      const [node, bin, , manifest, ...options] = fragfetchArgv(ctx.projectRoot, load.manifestPath, cache);
      const quoted = [node, bin, 'cat', manifest, id, ...options.filter((o) => o !== '--json')]
        .map((word) => `'${word!.replace(/'/g, "'\\''")}'`)
        .join(' ');
      return {
        argv: ['bash', '-c', `set -o pipefail; ${quoted} | ${consumer.command}`],
        verify: async (result) =>
          result.exitCode === 0 && result.stdout.startsWith(expected)
            ? { ok: true }
            : {
                ok: false,
                problem: `exit ${result.exitCode}, sha256 ${result.stdout.slice(0, 64) || '(none)'}`,
              },
        ...outputs(cache),
      };
    },
  };
}
