/**
 * Which data plane owns the TCP sockets: the native addon (the default where it runs) or node:net.
 * A pure decision over what was asked and what this machine and these rules allow; the caller
 * loads the addon and reports the outcome.
 */
import { DATAPLANE_ASKS, type DataplaneAsk, type RulesConfig } from '../config/types.js';
import type { AddonLoad } from './addon.js';

export { DATAPLANE_ASKS, type DataplaneAsk };
export type Dataplane = Exclude<DataplaneAsk, 'auto'>;

/** Where the ask came from, strongest first: the command line, the environment, the rules, nothing. */
export type DataplaneSource = '--dataplane' | 'PORTPLEX_DATAPLANE' | 'rules' | 'default';

export interface DataplaneRequest {
  readonly ask: DataplaneAsk;
  readonly source: DataplaneSource;
}

export type DataplaneChoice =
  | { readonly ok: true; readonly dataplane: Dataplane; readonly reason: string }
  | { readonly ok: false; readonly message: string };

export const isDataplaneAsk = (s: string): s is DataplaneAsk => (DATAPLANE_ASKS as readonly string[]).includes(s);

/**
 * The first of flag, environment and rules that says something. An environment value that is not
 * one of the three is an error (a typo must not silently pick a data plane); undefined then.
 */
export function dataplaneRequest(flag: string | undefined, env: string | undefined, rules: DataplaneAsk | undefined): DataplaneRequest | { readonly invalid: string } {
  if (flag !== undefined) return isDataplaneAsk(flag) ? { ask: flag, source: '--dataplane' } : { invalid: `--dataplane "${flag}": expected ${DATAPLANE_ASKS.join(', ')}` };
  if (env !== undefined && env !== '') return isDataplaneAsk(env) ? { ask: env, source: 'PORTPLEX_DATAPLANE' } : { invalid: `PORTPLEX_DATAPLANE="${env}": expected ${DATAPLANE_ASKS.join(', ')}` };
  if (rules !== undefined) return { ask: rules, source: 'rules' };
  return { ask: 'auto', source: 'default' };
}

/** How many processes bind each listener: every native worker binds its own SO_REUSEPORT socket. */
export interface DataplaneFacts {
  readonly workers: number;
}

/**
 * A TCP listener on port 0 with several workers: node:cluster binds it once and shares that one
 * port, but each native worker would bind its own socket and get a port of its own.
 */
export function portZeroListener(rules: RulesConfig, workers: number): string | undefined {
  if (workers < 2) return undefined;
  return rules.listeners.find((l) => l.transport === 'tcp' && l.port === 0)?.name;
}

export function chooseDataplane(req: DataplaneRequest, load: () => AddonLoad, rules: RulesConfig, facts: DataplaneFacts): DataplaneChoice {
  const by = req.source === 'default' ? '' : ` (${req.source})`;
  if (req.ask === 'js') return { ok: true, dataplane: 'js', reason: `asked for${by}` };
  const zero = portZeroListener(rules, facts.workers);
  const zeroWhy = zero === undefined ? undefined : `listener "${zero}" binds port 0 and there are ${facts.workers} workers: each native worker binds its own socket and would get a port of its own`;
  if (req.ask === 'native') {
    if (zeroWhy !== undefined) return { ok: false, message: `the native data plane was asked for${by}, but ${zeroWhy}; give the listener a port, run with --workers 1, or use --dataplane js` };
    const loaded = load();
    if (!loaded.ok) return { ok: false, message: `the native data plane was asked for${by}, but ${loaded.reason}; or run with --dataplane js` };
    return { ok: true, dataplane: 'native', reason: `asked for${by}` };
  }
  if (zeroWhy !== undefined) return { ok: true, dataplane: 'js', reason: zeroWhy };
  const loaded = load();
  if (!loaded.ok) return { ok: true, dataplane: 'js', reason: loaded.reason };
  return { ok: true, dataplane: 'native', reason: 'the addon is built and loads' };
}
