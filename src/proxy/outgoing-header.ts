/** The PROXY header portplex writes to a backend, built from the connection's real endpoints. */
import type { ProxyV2Options, SendProxy } from '../config/types.js';
import { encodeProxyV1, encodeProxyV2, proxyAddresses, standardTlvs, PP2_TYPE_UNIQUE_ID, type ProxyTlv } from '../protocols/proxy/header.js';

export interface Endpoints {
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly dstAddress: string;
  readonly dstPort: number;
  /** A UDP flow's header says DGRAM (v2 only: v1 has no UDP form). Default tcp. */
  readonly transport?: 'tcp' | 'udp';
}

/** What the connection knows that may go into the header. */
export interface HeaderFacts {
  readonly sni: string | undefined;
  readonly alpn: string | undefined;
  /**
   * The inbound header was a LOCAL one (a load balancer's health check): re-emitted as LOCAL (v2)
   * or UNKNOWN (v1), so the backend uses its own socket addresses and never an invented client.
   */
  readonly local: boolean;
  readonly uniqueId: Uint8Array | undefined;
  /** TLVs of the inbound v2 header, for `pass_tlvs`. */
  readonly inboundTlvs: readonly ProxyTlv[];
}

export type HeaderResult = { ok: true; header: Buffer | undefined } | { ok: false; message: string };

const UNKNOWN_V1 = Buffer.from('PROXY UNKNOWN\r\n', 'latin1');

export function outgoingHeader(mode: SendProxy, ep: Endpoints, facts: HeaderFacts, v2: ProxyV2Options): HeaderResult {
  if (mode === 'off') return { ok: true, header: undefined };
  if (mode === 'v1' && facts.local) return { ok: true, header: UNKNOWN_V1 };
  const addrs = proxyAddresses({ address: ep.srcAddress, port: ep.srcPort }, { address: ep.dstAddress, port: ep.dstPort }, { transport: ep.transport === 'udp' ? 'dgram' : 'stream' });
  if (mode === 'v1') return { ok: true, header: encodeProxyV1(addrs) };
  const tlvs = standardTlvs(v2.authority ? facts.sni : undefined, v2.alpn ? facts.alpn : undefined);
  if (v2.uniqueId && facts.uniqueId !== undefined) tlvs.push({ type: PP2_TYPE_UNIQUE_ID, value: facts.uniqueId });
  if (v2.passTlvs.length > 0) for (const t of facts.inboundTlvs) if (v2.passTlvs.includes(t.type)) tlvs.push(t);
  const r = encodeProxyV2(addrs, tlvs, { local: facts.local, crc32c: v2.crc32c });
  return r.ok ? { ok: true, header: r.header } : { ok: false, message: r.message };
}
