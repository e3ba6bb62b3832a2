/**
 * How many UDP flows this process may hold at once without starving TCP of descriptors. Each flow
 * holds one socket connected to its server; each TCP connection holds two (client and server).
 * Node has no getrlimit, so the limit is read from /proc/self/limits (Linux, proc(5)); Node itself
 * raises its soft limit to the hard one at start, so the value read in-process is the one that
 * binds (a shell's `ulimit -Sn` alone does not).
 */
import { readFileSync } from 'node:fs';
import { invalid, ok, type ParseResult } from '../protocols/result.js';

export interface OpenFilesLimit {
  /** The soft limit (what EMFILE enforces); Infinity for "unlimited". */
  readonly soft: number;
  readonly hard: number;
}

/** Where /proc/self/limits is missing (not Linux, no /proc in the container): the usual Linux soft limit. */
export const DEFAULT_OPEN_FILES = 1024;
/** Descriptors kept for the process itself: stdio, the event loop's, the admin endpoint, health checks, rule-file reads, DNS lookups. */
export const RESERVED_DESCRIPTORS = 64;
/** UDP flows may use at most this share of the rest, unless TCP's own limit leaves more unused. */
export const UDP_SHARE = 1 / 4;

const LINE = 'Max open files';

/**
 * The "Max open files" row of /proc/self/limits (fs/proc/base.c proc_pid_limits: the name padded
 * to 25 columns, then soft and hard, each a decimal number or "unlimited", then the unit).
 */
export function parseOpenFilesLimit(text: string): ParseResult<OpenFilesLimit> {
  for (const line of text.split('\n')) {
    if (!line.startsWith(LINE)) continue;
    const fields = line.slice(LINE.length).trim().split(/\s+/);
    const soft = limitValue(fields[0]);
    const hard = limitValue(fields[1]);
    if (soft === undefined || hard === undefined) return invalid(`unreadable "${LINE}" row`);
    return ok({ soft, hard }, text.length);
  }
  return invalid(`no "${LINE}" row`);
}

function limitValue(field: string | undefined): number | undefined {
  if (field === 'unlimited') return Infinity;
  if (field === undefined || !/^\d{1,15}$/.test(field)) return undefined;
  return Number(field);
}

/** The soft limit of this process, or DEFAULT_OPEN_FILES where it cannot be read. */
export function readOpenFilesLimit(path = '/proc/self/limits'): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return DEFAULT_OPEN_FILES;
  }
  const r = parseOpenFilesLimit(text);
  return r.kind === 'ok' ? r.value.soft : DEFAULT_OPEN_FILES;
}

/**
 * Flows the table may hold: after the reserve and one descriptor per listener, a quarter of what
 * remains — or more, when `limits.max_connections` (2 descriptors each) cannot use the rest.
 * TCP gets the larger share because it is the fallback of every HTTP/3 client: a browser refused
 * over QUIC retries over TCP, a TCP connection refused has nowhere else to go.
 */
export function udpFlowBudget(openFiles: number, maxConnections: number, listeners: number): number {
  if (openFiles === Infinity) return Infinity;
  const rest = openFiles - RESERVED_DESCRIPTORS - listeners;
  if (rest <= 0) return 0;
  return Math.max(Math.floor(rest * UDP_SHARE), rest - 2 * maxConnections);
}
