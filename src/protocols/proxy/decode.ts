/**
 * PROXY protocol header dispatch (haproxy doc/proxy-protocol.txt §2.2, "A receiver may be
 * configured to support both version 1 and version 2 of the protocol. Identifying the protocol
 * version is easy").
 *
 * The two formats cannot be confused: v1 starts with "PROXY " (0x50...), v2 with the 12-byte
 * signature (0x0D...), so the first byte decides. §5: whether a PROXY header is expected at all
 * must come from configuration, never from guessing — callers only use this on listeners
 * configured to receive one; `proxySignature` merely tells which parser applies.
 */
import { parseProxyV1, type ProxyV1Header } from './v1.js';
import { parseProxyV2, PROXY_V2_SIGNATURE, type ProxyV2Header, type ProxyV2Limits } from './v2.js';
import { incomplete, invalid, type ParseResult } from '../result.js';

export type InboundProxyHeader = ProxyV1Header | ProxyV2Header;

const V1_PREFIX = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]; // "PROXY "
const V2_SIGNATURE = PROXY_V2_SIGNATURE;

/** Whether `bytes` starts with `sig` ('full'), is a proper prefix of it ('prefix'), or neither. */
function against(bytes: Uint8Array, sig: readonly number[]): 'full' | 'prefix' | 'no' {
  const m = Math.min(bytes.length, sig.length);
  for (let k = 0; k < m; k++) if (bytes[k] !== sig[k]) return 'no';
  return bytes.length >= sig.length ? 'full' : 'prefix';
}

/**
 * 'v1': starts with "PROXY "; 'v2': starts with the 12-byte v2 signature (the version nibble is
 * left to parseProxyV2, which refuses anything but 2 with a precise reason); 'maybe': too few
 * bytes, a proper prefix of "PROXY " and/or of the signature (empty input is a prefix of both);
 * 'none': can start neither.
 */
export function proxySignature(bytes: Uint8Array): 'v1' | 'v2' | 'none' | 'maybe' {
  const v1 = against(bytes, V1_PREFIX);
  if (v1 === 'full') return 'v1';
  const v2 = against(bytes, V2_SIGNATURE);
  if (v2 === 'full') return 'v2';
  return v1 === 'prefix' || v2 === 'prefix' ? 'maybe' : 'none';
}

/** v1 or v2 according to the first bytes; invalid if they start neither. */
export function parseProxyHeader(bytes: Uint8Array, limits?: ProxyV2Limits): ParseResult<InboundProxyHeader> {
  switch (proxySignature(bytes)) {
    case 'v1':
      return parseProxyV1(bytes);
    case 'v2':
      return parseProxyV2(bytes, limits);
    case 'none':
      return invalid('not a PROXY protocol header');
    case 'maybe':
      if (bytes.length === 0) return incomplete();
      // One byte is enough to tell them apart: let that parser answer (incomplete, with `needed`).
      return bytes[0] === V2_SIGNATURE[0] ? parseProxyV2(bytes, limits) : parseProxyV1(bytes);
  }
}
