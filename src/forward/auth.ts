/** `Proxy-Authorization: Basic ...` (RFC 9110 §11.7.1, RFC 7617) against the route's credentials. */
import { timingSafeEqual } from 'node:crypto';
import type { ProxyCredential } from '../config/types.js';

/** The value of the first header called `name` in a request head (latin1 text), or undefined. */
export function headerValue(head: string, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const line of head.split(/\r?\n/).slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).toLowerCase() === lower) return line.slice(colon + 1).trim();
  }
  return undefined;
}

export function basicAuthOk(header: string | undefined, credentials: readonly ProxyCredential[]): boolean {
  const m = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
  if (m === null) return false;
  const given = Buffer.from(m[1]!, 'base64');
  let ok = false;
  for (const c of credentials) {
    const want = Buffer.from(`${c.user}:${c.password}`, 'utf8');
    // Compare every credential, in constant time for equal lengths, so timing says nothing.
    if (want.length === given.length && timingSafeEqual(want, given)) ok = true;
  }
  return ok;
}
