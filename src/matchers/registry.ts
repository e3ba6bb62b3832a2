/**
 * The static table from condition kinds to matcher factories: the generic conditions here, each
 * protocol's own from its folder (src/protocols/index.ts lists them). Adding a generic matcher
 * means adding a file and a row here; nothing registers itself on import.
 */
import type { Condition } from '../config/types.js';
import type { Matcher } from '../protocols/match-context.js';
import type { ProtocolCondition } from '../protocols/index.js';
import { conditionSpec, isProtocolCondition } from '../protocols/registry.js';
import { bytesLengthMatcher } from './bytes-length.js';
import { bytesPrefixMatcher } from './bytes-prefix.js';
import { bytesRegexMatcher } from './bytes-regex.js';
import { localPortMatcher } from './local-port.js';
import { allMatcher, alwaysMatcher, anyMatcher, notMatcher } from './logic.js';
import { protocolMatcher } from './protocol.js';
import { silentMatcher } from './silent.js';
import { srcMatcher } from './src.js';

type Generic = Exclude<Condition, ProtocolCondition>;
type Factories = { [K in Generic['kind']]: (c: Extract<Generic, { kind: K }>) => Matcher };

const FACTORIES: Factories = {
  always: () => alwaysMatcher,
  protocol: (c) => protocolMatcher(c.protocols),
  'bytes.length': (c) => bytesLengthMatcher(c.min, c.max),
  'bytes.prefix': (c) => bytesPrefixMatcher(c.prefixes),
  'bytes.regex': (c) => bytesRegexMatcher(c.regex),
  src: (c) => srcMatcher(c.cidrs),
  local_port: (c) => localPortMatcher(c.ranges),
  silent: (c) => silentMatcher(c.ms),
  not: (c) => notMatcher(compileCondition(c.inner)),
  all: (c) => allMatcher(c.inner.map(compileCondition)),
  any: (c) => anyMatcher(c.inner.map(compileCondition)),
};

export function compileCondition(c: Condition): Matcher {
  if (isProtocolCondition(c)) return conditionSpec(c).matcher(c);
  const factory = FACTORIES[c.kind] as (c: Generic) => Matcher;
  return factory(c);
}

/** Every `silent:` duration in a condition tree, so the inspector knows when to look again. */
export function silentDurations(c: Condition, out: number[] = []): number[] {
  if (c.kind === 'silent') out.push(c.ms);
  else if (c.kind === 'not') silentDurations(c.inner, out);
  else if (c.kind === 'all' || c.kind === 'any') for (const i of c.inner) silentDurations(i, out);
  return out;
}
