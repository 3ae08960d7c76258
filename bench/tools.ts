/**
 * The command lines under comparison, built for one workload: `fragfetch fetch` with its default
 * options, `curl --parallel --parallel-max 16` driven by a config file, and `aria2c -j 16` driven by
 * an input file (`-x 16 -s 16 -k 1M` for a single large object). Over https each is given the
 * bench's CA in its documented way (`--ca-file`, `--cacert`, `--ca-certificate`) and otherwise
 * negotiates what it would by itself: curl HTTP/2 (one connection, 16 streams), aria2c HTTP/1.1,
 * fragfetch HTTP/1.1 unless `--http2`.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type ToolId = 'fragfetch' | 'curl' | 'aria2c';

/** One file a tool must write: a whole object, or (`range`) a byte range of one. */
export interface Transfer {
  url: string;
  /** File name under the tool's output folder. */
  name: string;
  size: number;
  /** Inclusive byte range of the remote object, as in `Range: bytes=start-end`. */
  range?: { start: number; end: number };
}

export interface ToolInfo {
  id: ToolId;
  available: boolean;
  /** First line of `--version`, or why the tool is missing. */
  version: string;
}

async function versionOf(command: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(command, args);
    return `${stdout}${stderr}`.trim().split('\n')[0];
  } catch {
    return undefined;
  }
}

export async function probeTools(fragfetchVersion: string): Promise<Record<ToolId, ToolInfo>> {
  const curl = await versionOf('curl', ['--version']);
  const aria2c = await versionOf('aria2c', ['--version']);
  return {
    fragfetch: { id: 'fragfetch', available: true, version: fragfetchVersion },
    curl: { id: 'curl', available: curl !== undefined, version: curl ?? 'curl is not installed' },
    aria2c: { id: 'aria2c', available: aria2c !== undefined, version: aria2c ?? 'aria2c is not installed' },
  };
}

export const PARALLEL = 16;

/** How a run reaches an https origin: the CA that signed its certificate, and fragfetch's HTTP/2 switch. */
export interface TlsOptions {
  caFile: string;
  http2?: boolean;
}

/**
 * `node bin/fragfetch.js fetch <manifest> --cache <dir> --no-progress --json`, default options
 * otherwise (`--ca-file`, and `--http2` when asked, over https).
 */
export function fragfetchArgv(
  projectRoot: string,
  manifest: string,
  cacheDir: string,
  tls?: TlsOptions,
  extra: readonly string[] = [],
): string[] {
  return [
    process.execPath,
    path.join(projectRoot, 'bin', 'fragfetch.js'),
    'fetch',
    manifest,
    '--cache',
    cacheDir,
    '--no-progress',
    '--json',
    ...(tls ? ['--ca-file', tls.caFile] : []),
    ...(tls?.http2 ? ['--http2'] : []),
    ...extra,
  ];
}

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * A curl config with one operation per transfer (`next` between them), so each may carry its own
 * `range`; `--parallel` runs the operations' transfers side by side all the same. `next` resets
 * every per-transfer option, `--cacert` too: each block carries its own, and `perTransfer`'s lines
 * (e.g. `limit-rate = "20M"`).
 */
export function curlConfig(
  transfers: readonly Transfer[],
  outDir: string,
  tls?: TlsOptions,
  perTransfer: readonly string[] = [],
): string {
  const blocks = transfers.map((transfer) => {
    const lines = [`url = ${quote(transfer.url)}`, `output = ${quote(path.join(outDir, transfer.name))}`];
    if (transfer.range) lines.push(`range = "${transfer.range.start}-${transfer.range.end}"`);
    if (tls) lines.push(`cacert = ${quote(tls.caFile)}`);
    lines.push(...perTransfer, 'fail');
    return lines.join('\n');
  });
  return `${blocks.join('\nnext\n')}\n`;
}

export function curlLabel(): string {
  return `curl --parallel --parallel-max ${PARALLEL}`;
}

/** How a curl row differs from `--parallel --parallel-max 16`: one transfer at a time, options per transfer. */
export interface CurlVariant {
  sequential?: boolean;
  perTransfer?: readonly string[];
}

export async function curlArgv(
  transfers: readonly Transfer[],
  outDir: string,
  configFile: string,
  tls?: TlsOptions,
  variant: CurlVariant = {},
): Promise<string[]> {
  await writeFile(configFile, curlConfig(transfers, outDir, tls, variant.perTransfer));
  return [
    'curl',
    '--silent',
    '--show-error',
    ...(variant.sequential ? [] : ['--parallel', '--parallel-max', String(PARALLEL)]),
    '--config',
    configFile,
  ];
}

/** An aria2c input file: each URL, then its options indented on the following lines. */
export function aria2Input(transfers: readonly Transfer[], outDir: string): string {
  return transfers
    .map((transfer) => {
      if (transfer.range) throw new Error('aria2c cannot save a byte range of a URL as its own file');
      return `${transfer.url}\n  dir=${outDir}\n  out=${transfer.name}\n`;
    })
    .join('');
}

export function aria2Label(single: boolean): string {
  return single ? `aria2c -j ${PARALLEL} -x 16 -s 16 -k 1M` : `aria2c -j ${PARALLEL}`;
}

export async function aria2Argv(
  transfers: readonly Transfer[],
  outDir: string,
  inputFile: string,
  single: boolean,
  tls?: TlsOptions,
  extra: readonly string[] = [],
): Promise<string[]> {
  await writeFile(inputFile, aria2Input(transfers, outDir));
  return [
    'aria2c',
    `--input-file=${inputFile}`,
    '-j',
    String(PARALLEL),
    ...(single ? ['-x', '16', '-s', '16', '-k', '1M'] : []),
    ...(tls ? [`--ca-certificate=${tls.caFile}`] : []),
    ...extra,
    '--allow-overwrite=true',
    '--auto-file-renaming=false',
    '--file-allocation=none',
    '--console-log-level=error',
    '--summary-interval=0',
    '--download-result=hide',
    '--quiet=true',
  ];
}
