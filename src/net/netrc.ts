import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FragfetchError } from '../errors.js';

export interface NetrcEntry {
  login: string;
  password: string;
}

/** Logins by host name; `default` is the entry for any host not listed. */
export interface Netrc {
  machines: ReadonlyMap<string, NetrcEntry>;
  default?: NetrcEntry | undefined;
}

/**
 * Parses a .netrc as curl and ftp read it: whitespace-separated tokens, `machine NAME` starts an
 * entry, `login` and `password` fill it, `default` matches any other host, and a `macdef` runs to the
 * next blank line. Quoted values ("a b") are taken whole, as curl 7.84+ does.
 */
export function parseNetrc(text: string): Netrc {
  const machines = new Map<string, NetrcEntry>();
  let fallback: NetrcEntry | undefined;
  const tokens: string[] = [];
  // A macro definition runs from `macdef` to the next empty line and may hold anything.
  let inMacro = false;
  for (const line of text.split(/\r?\n/)) {
    if (inMacro) {
      inMacro = line.trim() !== '';
      continue;
    }
    const words = [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((match) =>
      match[1] === undefined ? match[2]! : match[1].replace(/\\(.)/g, '$1'),
    );
    const macro = words.indexOf('macdef');
    tokens.push(...(macro >= 0 ? words.slice(0, macro) : words));
    inMacro = macro >= 0;
  }
  let current: { host: string | undefined; entry: NetrcEntry } | undefined;
  const close = () => {
    if (!current) return;
    if (current.host === undefined) fallback ??= current.entry;
    else if (!machines.has(current.host)) machines.set(current.host, current.entry);
    current = undefined;
  };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token === 'machine') {
      close();
      current = { host: tokens[++i]?.toLowerCase(), entry: { login: '', password: '' } };
      if (current.host === undefined) break;
    } else if (token === 'default') {
      close();
      current = { host: undefined, entry: { login: '', password: '' } };
    } else if (current && (token === 'login' || token === 'password')) {
      current.entry[token] = tokens[++i] ?? '';
    }
  }
  close();
  return { machines, default: fallback };
}

/** The login for a host, if the file has one. */
export function netrcLogin(netrc: Netrc, hostname: string): NetrcEntry | undefined {
  return netrc.machines.get(hostname.toLowerCase()) ?? netrc.default;
}

/** `--netrc`: $NETRC if set (as curl 8.2+ reads it), else ~/.netrc. */
export function readNetrc(env: Readonly<Record<string, string | undefined>>): Netrc {
  const path = env.NETRC || join(env.HOME || homedir(), '.netrc');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as { code?: string }).code ?? String(error);
    throw new FragfetchError('EUSAGE', `--netrc: cannot read ${path}: ${reason}`, { cause: error });
  }
  return parseNetrc(text);
}
