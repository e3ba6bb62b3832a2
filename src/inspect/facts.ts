/**
 * A per-connection memo of parsed facts: each first message is decoded once and shared by every
 * condition that needs it (the ClientHello by the protocol, SNI, ALPN and version matchers).
 * Parsers are prefix-stable (an `ok` or `invalid` answer never changes when more bytes arrive),
 * so only an `incomplete` answer is recomputed, and only once the buffer has grown past what the
 * parser said it needs.
 */
import { tlsSignature, type ClientHello } from '../protocols/tls-client-hello.js';
import type { HttpRequestHead } from '../protocols/http-request.js';
import type { SshBanner } from '../protocols/ssh-banner.js';
import type { ParseResult } from '../protocols/result.js';
import { DATAGRAM_PARSERS, PARSERS, type ParserKey } from './protocol-table.js';

interface Slot {
  result: ParseResult<unknown>;
  /** Buffer length the result was computed at. */
  at: number;
}

export class Facts {
  private bytes: Uint8Array = EMPTY;
  /** A UDP flow's datagrams so far; undefined for a TCP stream. */
  private datagrams: readonly Uint8Array[] | undefined;
  /** How much input the parsers have seen: stream bytes, or datagram bytes summed. */
  private size = 0;
  private readonly slots = new Map<ParserKey, Slot>();

  constructor(private readonly maxBytes: number) {}

  /** Forgets the bytes and every parse (the connection was routed and its facts were summarised). */
  clear(): void {
    this.bytes = EMPTY;
    this.datagrams = undefined;
    this.size = 0;
    this.slots.clear();
  }

  /** Called by the inspector each time the accumulated bytes grow. */
  update(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.size = bytes.length;
  }

  /**
   * A UDP flow's datagrams so far (the list grows, the datagrams do not change). The bytes the
   * `bytes` conditions see are the first datagram's.
   */
  updateDatagrams(datagrams: readonly Uint8Array[], size: number): void {
    this.datagrams = datagrams;
    this.bytes = datagrams[0] ?? EMPTY;
    this.size = size;
  }

  /** The answer of one parser over the bytes so far (computed at most once per growth). */
  get(asked: ParserKey): ParseResult<unknown> {
    const datagrams = this.datagrams;
    // On UDP `protocol: quic` and the tls conditions read the same ClientHello: parse it once.
    const key = datagrams !== undefined && asked === 'quic' ? 'tls' : asked;
    const slot = this.slots.get(key);
    const n = this.size;
    if (slot !== undefined && !stale(slot, n)) return slot.result;
    let result: ParseResult<unknown>;
    if (datagrams !== undefined) {
      const parse = DATAGRAM_PARSERS[key];
      result = parse === undefined || datagrams.length === 0 ? NOT_ON_UDP : parse(datagrams, this.maxBytes);
    } else {
      const parse = PARSERS[key];
      // A cheap look at the first bytes settles most non-TLS connections without a full parse.
      result = parse === undefined ? NOT_ON_TCP : key === 'tls' && tlsSignature(this.bytes) === 'no' ? NOT_TLS : parse(this.bytes, this.maxBytes);
    }
    if (slot === undefined) this.slots.set(key, { result, at: n });
    else {
      slot.result = result;
      slot.at = n;
    }
    return result;
  }

  tls(): ParseResult<ClientHello> {
    return this.get('tls') as ParseResult<ClientHello>;
  }

  http(): ParseResult<HttpRequestHead> {
    return this.get('http') as ParseResult<HttpRequestHead>;
  }

  ssh(): ParseResult<SshBanner> {
    return this.get('ssh') as ParseResult<SshBanner>;
  }

  /** A parser's value when it was already computed and complete (for logs), without parsing anew. */
  known<T>(key: ParserKey): T | undefined {
    const r = this.slots.get(key)?.result;
    return r?.kind === 'ok' ? (r.value as T) : undefined;
  }

  clientHello(): ClientHello | undefined {
    return this.known<ClientHello>('tls');
  }

  httpHead(): HttpRequestHead | undefined {
    return this.known<HttpRequestHead>('http');
  }
}

const EMPTY = new Uint8Array(0);
const NOT_TLS: ParseResult<never> = Object.freeze({ kind: 'invalid', reason: 'not a TLS handshake record' });
const NOT_ON_TCP: ParseResult<never> = Object.freeze({ kind: 'invalid', reason: 'a protocol portplex recognises only over UDP' });
const NOT_ON_UDP: ParseResult<never> = Object.freeze({ kind: 'invalid', reason: 'a protocol portplex recognises only over TCP' });

function stale(slot: Slot, length: number): boolean {
  const r = slot.result;
  if (r.kind !== 'incomplete') return false;
  if (length === slot.at) return false;
  return r.needed === undefined || length >= r.needed;
}
