/**
 * A per-connection memo of parsed facts: the ClientHello is decoded once and shared by the
 * protocol, SNI, ALPN and version matchers. Parsers are prefix-stable (an `ok` or `invalid`
 * answer never changes when more bytes arrive), so only an `incomplete` answer is recomputed,
 * and only once the buffer has grown past what the parser said it needs.
 */
import { parseClientHello, tlsSignature, type ClientHello } from '../protocols/tls-client-hello.js';
import { parseHttpRequest, type HttpRequestHead } from '../protocols/http-request.js';
import { parseSshBanner, type SshBanner } from '../protocols/ssh-banner.js';
import type { ParseResult } from '../protocols/result.js';

interface Slot<T> {
  result: ParseResult<T> | undefined;
  /** Buffer length the result was computed at. */
  at: number;
}

export class Facts {
  private bytes: Uint8Array = EMPTY;
  private readonly tlsSlot: Slot<ClientHello> = { result: undefined, at: -1 };
  private readonly httpSlot: Slot<HttpRequestHead> = { result: undefined, at: -1 };
  private readonly sshSlot: Slot<SshBanner> = { result: undefined, at: -1 };

  constructor(private readonly maxBytes: number) {}

  /** Called by the inspector each time the accumulated bytes grow. */
  update(bytes: Uint8Array): void {
    this.bytes = bytes;
  }

  tls(): ParseResult<ClientHello> {
    const slot = this.tlsSlot;
    if (stale(slot, this.bytes.length)) {
      // A cheap look at the first bytes settles most non-TLS connections without a full parse.
      const sig = tlsSignature(this.bytes);
      slot.result = sig === 'no' ? NOT_TLS : parseClientHello(this.bytes, this.maxBytes);
      slot.at = this.bytes.length;
    }
    return slot.result!;
  }

  http(): ParseResult<HttpRequestHead> {
    const slot = this.httpSlot;
    if (stale(slot, this.bytes.length)) {
      slot.result = parseHttpRequest(this.bytes, this.maxBytes);
      slot.at = this.bytes.length;
    }
    return slot.result!;
  }

  ssh(): ParseResult<SshBanner> {
    const slot = this.sshSlot;
    if (stale(slot, this.bytes.length)) {
      slot.result = parseSshBanner(this.bytes);
      slot.at = this.bytes.length;
    }
    return slot.result!;
  }

  /** The ClientHello when one was fully parsed (for logs and the PROXY v2 TLVs). */
  clientHello(): ClientHello | undefined {
    const r = this.tlsSlot.result;
    return r?.kind === 'ok' ? r.value : undefined;
  }

  httpHead(): HttpRequestHead | undefined {
    const r = this.httpSlot.result;
    return r?.kind === 'ok' ? r.value : undefined;
  }
}

const EMPTY = new Uint8Array(0);
const NOT_TLS: ParseResult<never> = Object.freeze({ kind: 'invalid', reason: 'not a TLS handshake record' });

function stale<T>(slot: Slot<T>, length: number): boolean {
  const r = slot.result;
  if (r === undefined) return true;
  if (r.kind !== 'incomplete') return false;
  if (length === slot.at) return false;
  return r.needed === undefined || length >= r.needed;
}
