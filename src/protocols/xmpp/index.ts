/** XMPP (RFC 6120 §4.7): the client's opening stream header, and `when: { xmpp: { to } }` over its `to` domain. */
import type { MatchContext } from '../match-context.js';
import type { ProtocolModule } from '../module.js';
import { overParsed } from '../parsed.js';
import { nameMatches, namesCovered, namesText, type NamePattern } from '../patterns.js';
import { resumeXmppStreamHeader, type XmppResume, type XmppStreamHeader } from './parse.js';

export type XmppCondition = { readonly kind: 'xmpp.to'; readonly patterns: readonly NamePattern[] };

const to = (ctx: MatchContext): string | undefined => {
  const r = ctx.facts.get('xmpp');
  return r.kind === 'ok' ? r.value.to : undefined;
};

export const xmpp: ProtocolModule<'xmpp', XmppStreamHeader, 'xmpp', XmppCondition> = {
  key: 'xmpp',
  tcp: (b, _max, from) => resumeXmppStreamHeader(b, from as XmppResume | undefined),
  names: { xmpp: null },
  when: {
    keys: ['to'],
    nullMeansProtocol: true,
    compile: (r, node, what) => {
      const m = r.map(node, what, ['to']);
      return m ? [...m].map(([key, { value }]) => ({ kind: 'xmpp.to', patterns: r.names(value, `${what}.${key}`) })) : [];
    },
  },
  conditions: {
    'xmpp.to': {
      matcher: (c) => (ctx) => overParsed(ctx, ctx.facts.get('xmpp'), (v) => v.to !== undefined && nameMatches(c.patterns, v.to)),
      summary: (c) => `XMPP to ${namesText(c.patterns)}`,
      explain: (_c, ctx, show) => `to ${show(to(ctx))}`,
      implies: (a, b) => namesCovered(a.patterns, b.patterns),
    },
  },
  capture: (v, escape) => ({ xmpp_to: escape(v.to) }),
};
