/**
 * Whether a request reaches a route, and if not, its answer: 400 for a malformed target or Host,
 * 421 for a Host that is not the admin's (host-check.ts), 405 for a method other than GET and
 * HEAD, 401 without the admin token (auth.ts) except on /healthz and /readyz. Pure: it reads the
 * facts node:http parsed, never a socket, and never throws.
 */
import { isIP } from 'node:net';
import type { AdminConfig } from '../config/types.js';
import { bearerMatches, challenge } from './auth.js';
import { hostAllowed, hostPolicy, type HostPolicy } from './host-check.js';
import { parseAuthority, parseRequestTarget, type Authority } from './request-target.js';
import { OPEN_PATHS, textReply, type Reply } from './routes.js';

export interface RequestFacts {
  readonly method: string;
  /** The request-target as node:http read it (req.url). */
  readonly target: string;
  readonly httpVersion: string;
  /** Field names and values, alternating, as received (req.rawHeaders). */
  readonly rawHeaders: readonly string[];
  /** Where the connection arrived (socket.localAddress). */
  readonly localAddress: string | undefined;
}

export interface AdminAccess {
  readonly hosts: HostPolicy;
  /** `required` without a digest (rules compiled without reading the file) refuses every guarded path. */
  readonly token: { readonly required: boolean; readonly digest: Uint8Array | undefined };
}

export const OPEN_ACCESS: AdminAccess = { hosts: hostPolicy([]), token: { required: false, digest: undefined } };

/** The access rules of an `admin:` section: its allowed_hosts, the name it listens on (if a name), its token. */
export function adminAccess(admin: AdminConfig): AdminAccess {
  const listenName = isIP(admin.listen.host) === 0 ? [admin.listen.host] : [];
  return { hosts: hostPolicy([...admin.allowedHosts, ...listenName]), token: { required: admin.tokenFile !== undefined, digest: admin.tokenDigest } };
}

export type Admission = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reply: Reply };

const refuse = (reply: Reply): Admission => ({ ok: false, reply });
const badRequest = (why: string): Admission => refuse(textReply(400, `bad request: ${why}\n`, { connection: 'close' }));
const ALLOW = { allow: 'GET, HEAD' };

/** The values of one field (name compared case-insensitively). */
function fieldValues(raw: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

export function admit(req: RequestFacts, access: AdminAccess): Admission {
  const hosts = fieldValues(req.rawHeaders, 'host');
  const auth = fieldValues(req.rawHeaders, 'authorization');
  // node:http keeps the first of repeated Host and Authorization fields; RFC 9110 §7.2 wants a
  // 400 for two Hosts, and two credentials are as ambiguous.
  if (hosts.length > 1) return badRequest('more than one Host header (RFC 9110 §7.2)');
  if (auth.length > 1) return badRequest('more than one Authorization header');
  const target = parseRequestTarget(req.target);
  if (!target.ok) return badRequest(target.reason);

  // RFC 9112 §3.2.2: an absolute-form target's authority wins over the Host header.
  let authority: Authority | undefined;
  if (target.value.form === 'absolute') authority = target.value.authority;
  else if (hosts[0] !== undefined) {
    const h = parseAuthority(hosts[0]);
    if (!h.ok) return badRequest(`the Host header: ${h.reason}`);
    authority = h.value;
  } else if (req.httpVersion !== '1.0') return badRequest('HTTP/1.1 requires a Host header (RFC 9112 §3.2)');
  // HTTP/1.0 without Host passes: no browser sends that, so it cannot come from a rebinding page.
  if (authority !== undefined && !hostAllowed(authority, req.localAddress, access.hosts)) {
    return refuse(textReply(421, 'misdirected request: this Host is not the admin endpoint\'s address nor one of admin.allowed_hosts\n'));
  }

  if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(textReply(405, 'method not allowed: use GET or HEAD\n', ALLOW));
  if (target.value.form === 'asterisk') return badRequest('"*" is a target for OPTIONS only (RFC 9112 §3.2.4)');
  const path = target.value.path;
  if (access.token.required && !OPEN_PATHS.has(path)) {
    const digest = access.token.digest;
    if (digest === undefined || !bearerMatches(auth[0], digest)) {
      return refuse(textReply(401, 'unauthorized: send Authorization: Bearer <the token of admin.token_file>\n', { 'www-authenticate': challenge(auth[0]) }));
    }
  }
  return { ok: true, path };
}
