/** The PROXY header portplex writes to a backend, built from the connection's real endpoints. */
import type { SendProxy } from '../config/types.js';
import { encodeProxyV1, encodeProxyV2, proxyAddresses, standardTlvs } from '../protocols/proxy-header.js';

export interface Endpoints {
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly dstAddress: string;
  readonly dstPort: number;
}

export type HeaderResult = { ok: true; header: Buffer | undefined } | { ok: false; message: string };

export function outgoingHeader(mode: SendProxy, ep: Endpoints, sni: string | undefined, alpn: string | undefined): HeaderResult {
  if (mode === 'off') return { ok: true, header: undefined };
  const addrs = proxyAddresses({ address: ep.srcAddress, port: ep.srcPort }, { address: ep.dstAddress, port: ep.dstPort });
  if (mode === 'v1') return { ok: true, header: encodeProxyV1(addrs) };
  const r = encodeProxyV2(addrs, standardTlvs(sni, alpn));
  return r.ok ? { ok: true, header: r.header } : { ok: false, message: r.message };
}
