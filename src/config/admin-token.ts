/**
 * Reads `admin.token_file` when the rules are loaded (at start, on every reload, by `check`), so a
 * missing, unreadable or malformed file is refused at its key's line and column like any other
 * mistake, and the running rules stay. Only the token's SHA-256 is kept; no message ever quotes
 * the file's content.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { ConfigIssue } from './yaml-reader.js';
import type { RulesConfig, SourcePos } from './types.js';

/** A token file holds one token; anything larger is the wrong file (and is not read to the end). */
export const TOKEN_FILE_MAX_BYTES = 4096;
/** Below this many characters `check` warns: a bearer token is a password that is never typed. */
export const TOKEN_MIN_CHARS = 16;

/** RFC 6750 §2.1 b64token: letters, digits, "-._~+/", then any "=" padding. */
export const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** What is kept of a token: its SHA-256 (the admin endpoint compares digests, src/admin/auth.ts). */
export function tokenDigest(token: string): Uint8Array {
  return createHash('sha256').update(token, 'latin1').digest();
}

type TokenRead = { readonly ok: true; readonly token: string } | { readonly ok: false; readonly message: string };

/** The token in `path`: one line of RFC 6750 §2.1 token characters, surrounding whitespace ignored. */
export function readTokenFile(path: string): TokenRead {
  const fail = (why: string): TokenRead => ({ ok: false, message: `admin.token_file: ${path} ${why}` });
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, holding up the load.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    return fail(`cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (it must be readable by the user portplex runs as)`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return fail('is not a regular file');
    const buf = Buffer.alloc(TOKEN_FILE_MAX_BYTES + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    if (n > TOKEN_FILE_MAX_BYTES) return fail(`is larger than ${TOKEN_FILE_MAX_BYTES} bytes: it must hold only the token`);
    const token = buf.subarray(0, n).toString('latin1').trim();
    if (token === '') return fail('is empty: write a token into it, e.g. `openssl rand -hex 32 > FILE`');
    if (!BEARER_TOKEN.test(token)) return fail('holds characters a bearer token cannot have: one line of letters, digits and -._~+/ (then = padding), RFC 6750 §2.1');
    return { ok: true, token };
  } catch (e) {
    return fail(`cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

export type WithToken = { readonly ok: true; readonly rules: RulesConfig } | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/** The rules with admin.tokenDigest filled in from admin.token_file (unchanged without one). */
export function withAdminToken(rules: RulesConfig): WithToken {
  const admin = rules.admin;
  if (admin?.tokenFile === undefined) return { ok: true, rules };
  const at: SourcePos = admin.tokenFile.pos;
  const read = readTokenFile(admin.tokenFile.path);
  if (!read.ok) return { ok: false, issues: [{ ...at, message: read.message }] };
  const short = read.token.length < TOKEN_MIN_CHARS ? [{ ...at, message: `admin.token_file: the token has ${read.token.length} characters; use at least ${TOKEN_MIN_CHARS} random ones (e.g. openssl rand -hex 32)` }] : [];
  return { ok: true, rules: { ...rules, warnings: [...rules.warnings, ...short], admin: { ...admin, tokenDigest: tokenDigest(read.token) } } };
}
