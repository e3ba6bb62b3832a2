/**
 * Bearer-token auth for the admin endpoint (RFC 6750 §2.1, `Authorization: Bearer <token>`).
 * Only a SHA-256 digest of the token is kept; the presented token is hashed the same way and the
 * two 32-byte digests are compared with timingSafeEqual, so neither the comparison time nor a
 * length check tells an attacker how much of a guess was right.
 */
import { timingSafeEqual } from 'node:crypto';
import { tokenDigest } from '../config/admin-token.js';

/** credentials = auth-scheme 1*SP token68 (RFC 9110 §11.4); the scheme is case-insensitive (§11.1). */
const BEARER_CREDENTIALS = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** Whether an Authorization header value carries the token whose digest is `digest`. */
export function bearerMatches(authorization: string | undefined, digest: Uint8Array): boolean {
  if (authorization === undefined) return false;
  const m = BEARER_CREDENTIALS.exec(authorization);
  if (m === null) return false;
  const presented = tokenDigest(m[1]!);
  return presented.length === digest.length && timingSafeEqual(presented, digest);
}

/** RFC 6750 §3: a 401 names the scheme; `invalid_token` when a token was sent and did not match. */
export function challenge(authorization: string | undefined): string {
  return authorization === undefined ? 'Bearer realm="portplex admin"' : 'Bearer realm="portplex admin", error="invalid_token"';
}
