/**
 * Conditions over what a first message names: the XMPP `to` domain, the RDP mstshash cookie, the
 * Postgres message kind, user and database.
 */
import type { NamePattern, PostgresKind, TextPattern } from '../config/types.js';
import type { PostgresFirstMessage } from '../protocols/postgres/parse.js';
import type { RdpConnectionRequest } from '../protocols/rdp/parse.js';
import type { XmppStreamHeader } from '../protocols/xmpp/parse.js';
import type { Matcher } from './context.js';
import { nameMatches } from './names.js';
import { overParsed } from './parsed.js';

export function textMatches(patterns: readonly TextPattern[], text: string): boolean {
  const lower = text.toLowerCase();
  return patterns.some((p) => (p.kind === 'exact' ? p.text === lower : p.regex.test(text)));
}

export function xmppToMatcher(patterns: readonly NamePattern[]): Matcher {
  return (ctx) => overParsed(ctx, ctx.facts.get('xmpp'), (v) => {
    const to = (v as XmppStreamHeader).to;
    return to !== undefined && nameMatches(patterns, to);
  });
}

export function rdpCookieMatcher(patterns: readonly TextPattern[]): Matcher {
  return (ctx) => overParsed(ctx, ctx.facts.get('rdp'), (v) => {
    const c = (v as RdpConnectionRequest).cookie;
    return c !== undefined && textMatches(patterns, c);
  });
}

export function postgresKindMatcher(kinds: readonly PostgresKind[]): Matcher {
  return (ctx) => overParsed(ctx, ctx.facts.get('postgres'), (v) => kinds.includes((v as PostgresFirstMessage).kind));
}

export function postgresFieldMatcher(field: 'user' | 'database', patterns: readonly TextPattern[]): Matcher {
  return (ctx) => overParsed(ctx, ctx.facts.get('postgres'), (v) => {
    const x = (v as PostgresFirstMessage)[field];
    return x !== undefined && textMatches(patterns, x);
  });
}
