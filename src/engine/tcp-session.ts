/**
 * The inspection session of one TCP connection, built from the listener and the runtime, and
 * what its answers mean in the connection's terms that are not socket work: the debug `route
 * decided` trace line and the hint a refused PROXY header gets when another listener trusts the peer.
 */
import type { ListenerConfig, RulesConfig } from '../config/types.js';
import { InspectionSession, type SessionStep } from '../inspect/session.js';
import type { Endpoint } from '../observe/close-line.js';
import type { Logger } from '../observe/logger.js';
import type { RouteTable } from '../router/route-table.js';

/** What the session and the refusal hint read of the per-reload runtime (src/engine/runtime.ts's Runtime is one). */
export interface SessionRuntime {
  readonly table: RouteTable;
  readonly inspect: RulesConfig['inspect'];
  readonly log: Pick<Logger, 'isLevelEnabled' | 'debug'>;
  trusts(listener: ListenerConfig, peer: string): boolean;
  /** The name of another listener that trusts this peer, if any. */
  trustedElsewhere(listener: ListenerConfig, peer: string): string | undefined;
}

/** The session of the connection `id` accepted at `started` from `peer` on the local address `local`. */
export function tcpSession(listener: ListenerConfig, rt: SessionRuntime, id: string, peer: Endpoint, local: Endpoint, started: number): InspectionSession {
  const debug = rt.log.isLevelEnabled('debug');
  return new InspectionSession(
    {
      table: rt.table,
      inspect: rt.inspect,
      proxy: listener.proxy,
      peerTrusted: listener.proxy.accept !== 'off' && rt.trusts(listener, peer.address),
      peer,
      local,
      // The compact form of `portplex explain`: each route's verdict, and when it was decided.
      onDecided: debug
        ? (trace, d, afterMs, peeked) => {
            const verdicts = trace.map((t) => `${t.route}:${t.verdict}`).join(' ');
            rt.log.debug({ id, trace: verdicts, route: d.route?.name ?? 'default', after_ms: Math.round(afterMs * 100) / 100, peeked }, 'route decided');
          }
        : undefined,
    },
    started,
  );
}

/** The close line's detail of a refusal: a header on a listener that takes none names a listener that trusts the peer. */
export function refusalDetail(step: Extract<SessionStep, { kind: 'refuse' }>, rt: SessionRuntime, listener: ListenerConfig, peerAddress: string): string {
  if (step.code !== 'PORTPLEX_ERR_PROXY_NOT_ACCEPTED') return step.detail;
  const other = rt.trustedElsewhere(listener, peerAddress);
  if (other === undefined) return step.detail;
  return `${step.detail}; listener "${other}" trusts this peer: the same load balancer probably sends to both, so set proxy_protocol on "${listener.name}" too`;
}
