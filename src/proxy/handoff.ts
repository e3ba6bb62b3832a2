/**
 * The handover of a routed connection to its backend: the outgoing PROXY header, the replay of
 * the peeked bytes behind it in one write, and — when the route was decided before the first
 * bytes could rule out a PROXY signature — the guard that holds them back until later bytes
 * settle it (a forged header never reaches a backend).
 */
import type { ProxyV2Options, SendProxy } from '../config/types.js';
import { isLocalHeader } from '../inspect/inbound-proxy.js';
import type { InspectionSession } from '../inspect/session.js';
import { proxySignature, type InboundProxyHeader } from '../protocols/proxy/decode.js';
import type { ClientHello } from '../protocols/tls/client-hello.js';
import { outgoingHeader, type Endpoints } from './outgoing-header.js';
import type { SpliceGuard } from './splice.js';

export interface HandoffInput {
  readonly sendProxy: SendProxy;
  readonly proxyV2: ProxyV2Options;
  readonly endpoints: Endpoints;
  readonly hello: ClientHello | undefined;
  readonly inbound: InboundProxyHeader | undefined;
  readonly uniqueId: Buffer | undefined;
  /** The peeked client bytes, all to be replayed. */
  readonly replay: Buffer;
  /** The replay could still be the start of a PROXY signature (InspectionSession's route answer). */
  readonly signatureUndecided: boolean;
}

export type Handoff =
  /** `head` goes to the backend first (header and replay); `guard` is the splice's, if any. */
  | { readonly ok: true; readonly head: Buffer | undefined; readonly guard: SpliceGuard | undefined }
  | { readonly ok: false; readonly detail: string };

export function handoff(h: HandoffInput): Handoff {
  const inbound = h.inbound;
  const header = outgoingHeader(
    h.sendProxy,
    h.endpoints,
    {
      sni: h.hello?.sni,
      alpn: h.hello?.alpn[0],
      local: inbound !== undefined && isLocalHeader(inbound),
      uniqueId: h.uniqueId,
      inboundTlvs: inbound?.version === 2 ? inbound.tlvs : [],
    },
    h.proxyV2,
  );
  if (!header.ok) return { ok: false, detail: `PORTPLEX_ERR_PROXY_HEADER_TOO_LARGE: ${header.message}` };
  // Bytes that could still be the start of a PROXY signature are held back by the guard until
  // the next bytes settle it; everything else goes out with the header in one write.
  const sent = h.signatureUndecided ? EMPTY : h.replay;
  const head = header.header === undefined ? sent : sent.length === 0 ? header.header : Buffer.concat([header.header, sent]);
  return { ok: true, head, guard: h.signatureUndecided ? signatureGuard(Buffer.from(h.replay), inbound !== undefined) : undefined };
}

/** The handover of an inspection session's client (src/inspect/session.ts). */
export function handoffOf(s: InspectionSession, sendProxy: SendProxy, proxyV2: ProxyV2Options, uniqueId: Buffer | undefined, signatureUndecided: boolean): Handoff {
  return handoff({
    sendProxy,
    proxyV2,
    endpoints: { srcAddress: s.srcAddress, srcPort: s.srcPort, dstAddress: s.localAddress, dstPort: s.localPort },
    hello: s.facts.clientHello(),
    inbound: s.inbound,
    uniqueId,
    replay: s.bytes as Buffer,
    // Routed before the first bytes could rule out a PROXY signature (a route that needs no
    // bytes): unless the client already ended, they are checked before any reaches the backend.
    signatureUndecided: signatureUndecided && !s.eof,
  });
}

/** Refuses client data that turns out to start with a PROXY signature: one check per arrival. */
export function signatureGuard(held: Buffer, afterInboundHeader: boolean): SpliceGuard {
  return {
    held,
    check: (b) => {
      const sig = proxySignature(b);
      if (sig === 'maybe') return 'wait';
      if (sig === 'none') return 'ok';
      return {
        refuse: afterInboundHeader
          ? `PORTPLEX_ERR_PROXY_IN_DATA: a second PROXY ${sig} header after the load balancer's`
          : `PORTPLEX_ERR_PROXY_NOT_ACCEPTED: a PROXY ${sig} header arrived on a listener with proxy_protocol.accept off`,
      };
    },
  };
}

const EMPTY = Buffer.alloc(0);
