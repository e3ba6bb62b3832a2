/**
 * Inbound PROXY protocol (haproxy proxy-protocol.txt): decides, over the bytes received so far,
 * whether a connection starts with a header it may send, and what to do with it. Pure: no I/O.
 *
 * Trust rules: a header is honoured only from a trusted peer on a listener that accepts it;
 * from anyone else a connection that starts with a PROXY signature is refused, never routed
 * with the header as data. `required` refuses every connection without a header, and so every
 * untrusted peer.
 */
import type { InboundProxyConfig } from '../config/types.js';
import type { ErrorCode } from '../errors.js';
import { parseProxyHeader, proxySignature, type InboundProxyHeader } from '../protocols/proxy/decode.js';

export type InboundStep =
  | { readonly kind: 'wait' }
  /** No header: every byte is client data. */
  | { readonly kind: 'none' }
  | { readonly kind: 'header'; readonly header: InboundProxyHeader; readonly length: number }
  | { readonly kind: 'refuse'; readonly code: ErrorCode; readonly reason: string };

const WAIT: InboundStep = Object.freeze({ kind: 'wait' });
const NONE: InboundStep = Object.freeze({ kind: 'none' });

/**
 * @param final no more bytes will be waited for (EOF, header deadline, or established silence)
 */
export function inboundStep(bytes: Uint8Array, cfg: InboundProxyConfig, peerTrusted: boolean, final: boolean): InboundStep {
  if (cfg.accept === 'required' && !peerTrusted) {
    return refuse('PORTPLEX_ERR_PROXY_UNTRUSTED', 'this listener requires a PROXY header and the peer is not in proxy_protocol.trusted');
  }
  const sig = proxySignature(bytes);
  if (sig === 'maybe') {
    if (!final) return WAIT;
    // Some bytes of a signature, then nothing more in time: a broken header, not "no header".
    if (bytes.length > 0 && cfg.accept !== 'off' && peerTrusted) return refuse('PORTPLEX_ERR_PROXY_INVALID', 'PROXY signature incomplete at the deadline or end of data');
    return cfg.accept === 'required' ? refuse('PORTPLEX_ERR_PROXY_REQUIRED', 'no PROXY header before the deadline or end of data') : NONE;
  }
  if (sig === 'none') {
    return cfg.accept === 'required' ? refuse('PORTPLEX_ERR_PROXY_REQUIRED', 'the connection does not start with a PROXY header') : NONE;
  }
  if (cfg.accept === 'off') return refuse('PORTPLEX_ERR_PROXY_NOT_ACCEPTED', `a PROXY ${sig} header arrived on a listener with proxy_protocol.accept off`);
  if (!peerTrusted) return refuse('PORTPLEX_ERR_PROXY_UNTRUSTED', `a PROXY ${sig} header from a peer not in proxy_protocol.trusted`);
  const r = parseProxyHeader(bytes, { maxLength: cfg.maxBytes });
  if (r.kind === 'ok') return { kind: 'header', header: r.value, length: r.length };
  if (r.kind === 'invalid') return refuse('PORTPLEX_ERR_PROXY_INVALID', `bad PROXY ${sig} header: ${r.reason}`);
  if (bytes.length >= cfg.maxBytes) return refuse('PORTPLEX_ERR_PROXY_INVALID', `PROXY ${sig} header longer than proxy_protocol.max_bytes (${cfg.maxBytes})`);
  return final ? refuse('PORTPLEX_ERR_PROXY_INVALID', `PROXY ${sig} header incomplete at the deadline or end of data`) : WAIT;
}

function refuse(code: ErrorCode, reason: string): InboundStep {
  return { kind: 'refuse', code, reason };
}

/** The client and original destination a header carries, or undefined (LOCAL, UNKNOWN, UNSPEC, UNIX): use the socket's. */
export function headerEndpoints(h: InboundProxyHeader): { src: { address: string; port: number }; dst: { address: string; port: number } } | undefined {
  if (h.version === 2 && h.command === 'local') return undefined;
  if (h.src === undefined || h.dst === undefined) return undefined;
  return { src: h.src, dst: h.dst };
}

/** A LOCAL v2 header (health check) or v1 UNKNOWN: the backend must not be told an invented client. */
export function isLocalHeader(h: InboundProxyHeader): boolean {
  return h.version === 2 ? h.command === 'local' || h.src === undefined : h.family === 'unknown';
}
