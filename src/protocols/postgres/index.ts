/**
 * PostgreSQL: the first message of a connection (SSLRequest, GSSENCRequest, CancelRequest or
 * StartupMessage), and `when: { postgres: { kind, user, database } }` over it.
 */
import type { MatchContext } from '../match-context.js';
import type { ConditionSpec, ProtocolModule } from '../module.js';
import { overParsed } from '../parsed.js';
import { textMatches, textsCovered, textsText, type TextPattern } from '../patterns.js';
import { parsePostgresStartup, type PostgresFirstMessage } from './parse.js';

export const POSTGRES_KINDS = ['ssl-request', 'gssenc-request', 'cancel', 'startup'] as const;
export type PostgresKind = (typeof POSTGRES_KINDS)[number];
export const POSTGRES_KEYS = ['kind', 'user', 'database'] as const;

export type PostgresCondition =
  | { readonly kind: 'postgres.kind'; readonly kinds: readonly PostgresKind[] }
  | { readonly kind: 'postgres.user'; readonly patterns: readonly TextPattern[] }
  | { readonly kind: 'postgres.database'; readonly patterns: readonly TextPattern[] };

const message = (ctx: MatchContext): PostgresFirstMessage | undefined => {
  const r = ctx.facts.get('postgres');
  return r.kind === 'ok' ? r.value : undefined;
};

/** `postgres.user` and `postgres.database`: one StartupMessage field against text patterns. */
function field(name: 'user' | 'database'): ConditionSpec<{ readonly patterns: readonly TextPattern[] }> {
  return {
    matcher: (c) => (ctx) =>
      overParsed(ctx, ctx.facts.get('postgres'), (v) => {
        const x = v[name];
        return x !== undefined && textMatches(c.patterns, x);
      }),
    summary: (c) => `Postgres ${name} ${textsText(c.patterns)}`,
    explain: (_c, ctx, show) => `${name} ${show(message(ctx)?.[name])}`,
    implies: (a, b) => textsCovered(a.patterns, b.patterns),
  };
}

export const postgres: ProtocolModule<'postgres', PostgresFirstMessage, 'postgres', PostgresCondition> = {
  key: 'postgres',
  tcp: (b) => parsePostgresStartup(b),
  names: { postgres: null },
  when: {
    keys: POSTGRES_KEYS,
    nullMeansProtocol: true,
    compile: (r, node, what) => {
      const parts: PostgresCondition[] = [];
      const m = r.map(node, what, POSTGRES_KEYS);
      if (!m) return parts;
      for (const [key, { value }] of m) {
        const sub = `${what}.${key}`;
        if (key === 'kind') {
          const kinds = r.list(value).map((n) => r.oneOf<PostgresKind>(n, sub, POSTGRES_KINDS)).filter((k): k is PostgresKind => k !== undefined);
          parts.push({ kind: 'postgres.kind', kinds });
        } else parts.push({ kind: key === 'user' ? 'postgres.user' : 'postgres.database', patterns: r.texts(value, sub) });
      }
      return parts;
    },
  },
  conditions: {
    'postgres.kind': {
      matcher: (c) => (ctx) => overParsed(ctx, ctx.facts.get('postgres'), (v) => c.kinds.includes(v.kind)),
      summary: (c) => `Postgres ${c.kinds.join(', ')}`,
      explain: (c, ctx) => `kind ${message(ctx)?.kind ?? 'unknown'} (wanted ${c.kinds.join(', ')})`,
      implies: (a, b) => a.kinds.every((k) => b.kinds.includes(k)),
    },
    'postgres.user': field('user'),
    'postgres.database': field('database'),
  },
  capture: (v, escape) => ({ pg_kind: v.kind, pg_user: escape(v.user), pg_database: escape(v.database) }),
};
