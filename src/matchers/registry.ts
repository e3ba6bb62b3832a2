/**
 * The static table from condition kinds to matcher factories. Adding a matcher means adding a
 * file and a row here; nothing registers itself on import.
 */
import type { Condition } from '../config/types.js';
import type { Matcher } from './context.js';
import { bytesLengthMatcher } from './bytes-length.js';
import { postgresFieldMatcher, postgresKindMatcher, rdpCookieMatcher, xmppToMatcher } from './captures.js';
import { bytesPrefixMatcher } from './bytes-prefix.js';
import { bytesRegexMatcher } from './bytes-regex.js';
import { httpHostMatcher } from './http-host.js';
import { httpMethodMatcher } from './http-method.js';
import { localPortMatcher } from './local-port.js';
import { allMatcher, alwaysMatcher, anyMatcher, notMatcher } from './logic.js';
import { protocolMatcher } from './protocol.js';
import { silentMatcher } from './silent.js';
import { srcMatcher } from './src.js';
import { tlsAlpnMatcher } from './tls-alpn.js';
import { tlsEchMatcher } from './tls-ech.js';
import { tlsSniMatcher } from './tls-sni.js';
import { tlsVersionMatcher } from './tls-version.js';

type Factories = { [K in Condition['kind']]: (c: Extract<Condition, { kind: K }>) => Matcher };

const FACTORIES: Factories = {
  always: () => alwaysMatcher,
  protocol: (c) => protocolMatcher(c.protocols),
  'tls.sni': (c) => tlsSniMatcher(c.patterns),
  'tls.alpn': (c) => tlsAlpnMatcher(c.names),
  'tls.version': (c) => tlsVersionMatcher(c.min, c.max),
  'tls.ech': (c) => tlsEchMatcher(c.present),
  'http.method': (c) => httpMethodMatcher(c.methods),
  'http.host': (c) => httpHostMatcher(c.patterns),
  'bytes.length': (c) => bytesLengthMatcher(c.min, c.max),
  'bytes.prefix': (c) => bytesPrefixMatcher(c.prefixes),
  'bytes.regex': (c) => bytesRegexMatcher(c.regex),
  'xmpp.to': (c) => xmppToMatcher(c.patterns),
  'rdp.cookie': (c) => rdpCookieMatcher(c.patterns),
  'postgres.kind': (c) => postgresKindMatcher(c.kinds),
  'postgres.user': (c) => postgresFieldMatcher('user', c.patterns),
  'postgres.database': (c) => postgresFieldMatcher('database', c.patterns),
  src: (c) => srcMatcher(c.cidrs),
  local_port: (c) => localPortMatcher(c.ranges),
  silent: (c) => silentMatcher(c.ms),
  not: (c) => notMatcher(compileCondition(c.inner)),
  all: (c) => allMatcher(c.inner.map(compileCondition)),
  any: (c) => anyMatcher(c.inner.map(compileCondition)),
};

export function compileCondition(c: Condition): Matcher {
  const factory = FACTORIES[c.kind] as (c: Condition) => Matcher;
  return factory(c);
}

/** Every `silent:` duration in a condition tree, so the inspector knows when to look again. */
export function silentDurations(c: Condition, out: number[] = []): number[] {
  if (c.kind === 'silent') out.push(c.ms);
  else if (c.kind === 'not') silentDurations(c.inner, out);
  else if (c.kind === 'all' || c.kind === 'any') for (const i of c.inner) silentDurations(i, out);
  return out;
}
