/** RDP: the X.224 Connection Request (MS-RDPBCGR §2.2.1.1), and `when: { rdp: { cookie } }` over its mstshash cookie. */
import type { MatchContext } from '../match-context.js';
import type { ProtocolModule } from '../module.js';
import { overParsed } from '../parsed.js';
import { textMatches, textsCovered, textsText, type TextPattern } from '../patterns.js';
import { parseRdpConnectionRequest, type RdpConnectionRequest } from './parse.js';

export type RdpCondition = { readonly kind: 'rdp.cookie'; readonly patterns: readonly TextPattern[] };

const cookie = (ctx: MatchContext): string | undefined => {
  const r = ctx.facts.get('rdp');
  return r.kind === 'ok' ? r.value.cookie : undefined;
};

export const rdp: ProtocolModule<'rdp', RdpConnectionRequest, 'rdp', RdpCondition> = {
  key: 'rdp',
  tcp: (b) => parseRdpConnectionRequest(b),
  names: { rdp: null },
  when: {
    keys: ['cookie'],
    nullMeansProtocol: true,
    compile: (r, node, what) => {
      const m = r.map(node, what, ['cookie']);
      return m ? [...m].map(([key, { value }]) => ({ kind: 'rdp.cookie', patterns: r.texts(value, `${what}.${key}`) })) : [];
    },
  },
  conditions: {
    'rdp.cookie': {
      matcher: (c) => (ctx) => overParsed(ctx, ctx.facts.get('rdp'), (v) => v.cookie !== undefined && textMatches(c.patterns, v.cookie)),
      summary: (c) => `RDP cookie ${textsText(c.patterns)}`,
      explain: (_c, ctx, show) => `cookie ${show(cookie(ctx))}`,
      implies: (a, b) => textsCovered(a.patterns, b.patterns),
    },
  },
  capture: (v, escape) => ({ rdp_cookie: escape(v.cookie) }),
};
