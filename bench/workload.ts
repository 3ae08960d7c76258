/**
 * What a scenario fetches: the transfers (URL, output name, size, range) every tool is given, and
 * the same as a fragfetch manifest, from the plain or the https origin.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FixtureFile, FixtureGroup, Fixtures } from './fixtures.js';
import type { TlsOptions, ToolId, ToolInfo, Transfer } from './tools.js';

export interface ScenarioContext {
  projectRoot: string;
  origin: string;
  /** The same files over HTTPS, with the CA that signed the server's certificate. */
  tlsOrigin: string;
  /** A slow mirror of `tlsOrigin`: the same files over HTTPS, each connection limited. */
  slowTlsOrigin: string;
  caFile: string;
  fixtures: Fixtures;
  tools: Record<ToolId, ToolInfo>;
  workDir: string;
  /** Requests the server has answered so far. */
  serverRequests(): Promise<number>;
}

export interface Workload {
  transfers: Transfer[];
  manifestPath: string;
  single: boolean;
  bytes: number;
  /** Set when the workload is fetched over https. */
  tls?: TlsOptions;
}

async function writeManifest(ctx: ScenarioContext, name: string, manifest: object): Promise<string> {
  const file = path.join(ctx.workDir, `${name}.manifest.json`);
  await writeFile(file, `${JSON.stringify(manifest, null, 1)}\n`);
  return file;
}

export function group(ctx: ScenarioContext, name: FixtureGroup) {
  const meta = ctx.fixtures.groups[name];
  if (!meta) throw new Error(`fixtures: group ${name} was not prepared`);
  return meta;
}

/** Whole objects from `<origin>/<urlFolder>/`, over https when `https` is set. */
export function wholeFiles(
  ctx: ScenarioContext,
  name: string,
  files: readonly FixtureFile[],
  urlFolder: string,
  https = false,
): Promise<Workload> {
  return mirroredFiles(ctx, name, files, urlFolder, [https ? ctx.tlsOrigin : ctx.origin]);
}

/**
 * Whole objects from `<origin>/<urlFolder>/` of each origin, mirrors of one another in the
 * manifest's `baseUrls` in the order given; the other tools fetch from the first. https when the
 * first is.
 */
export async function mirroredFiles(
  ctx: ScenarioContext,
  name: string,
  files: readonly FixtureFile[],
  urlFolder: string,
  origins: readonly string[],
): Promise<Workload> {
  const bases = origins.map((origin) => `${origin}/${urlFolder}/`);
  const manifestPath = await writeManifest(ctx, name, {
    version: 1,
    name: `bench-${name}`,
    baseUrls: bases,
    fragments: files.map((file) => ({
      path: path.posix.basename(file.path),
      size: file.size,
      integrity: file.sri,
    })),
  });
  return {
    transfers: files.map((file) => ({
      url: bases[0] + path.posix.basename(file.path),
      name: path.posix.basename(file.path),
      size: file.size,
    })),
    manifestPath,
    single: files.length === 1,
    bytes: files.reduce((sum, file) => sum + file.size, 0),
    ...(bases[0]!.startsWith('https:') ? { tls: { caFile: ctx.caFile } } : {}),
  };
}

/** 512 byte-range fragments of the one big object: fragfetch's range fragments, curl's `-r`. */
export async function rangeSlices(ctx: ScenarioContext): Promise<Workload> {
  const big = group(ctx, 'big');
  const file = big.files[0]!;
  const slices = big.slices ?? [];
  const base = `${ctx.origin}/big/`;
  const name = path.posix.basename(file.path);
  const manifestPath = await writeManifest(ctx, 'ranges', {
    version: 1,
    name: 'bench-ranges',
    baseUrls: [base],
    fragments: slices.map((slice) => ({
      path: name,
      offset: slice.offset,
      size: slice.size,
      integrity: slice.sri,
    })),
  });
  return {
    transfers: slices.map((slice, i) => ({
      url: base + name,
      name: `slice${String(i).padStart(3, '0')}.bin`,
      size: slice.size,
      range: { start: slice.offset, end: slice.offset + slice.size - 1 },
    })),
    manifestPath,
    single: false,
    bytes: slices.reduce((sum, slice) => sum + slice.size, 0),
  };
}
