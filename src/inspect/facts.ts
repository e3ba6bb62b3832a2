/**
 * A per-connection memo of parsed facts: each first message is decoded once and shared by every
 * condition that needs it (the ClientHello by the protocol, SNI, ALPN and version matchers).
 * Parsers are prefix-stable (an `ok` or `invalid` answer never changes when more bytes arrive),
 * so only an `incomplete` answer is recomputed.
 *
 * Inspection work is linear in the bytes received, however they are split into segments: an
 * incomplete answer that carries a `resume` state (result.ts Suspended) is carried on from there
 * on every growth (the parser reads the new bytes only, and the answer is the one a parse from
 * byte 0 gives); one that says what it `needed` (a message whose length field has arrived) is
 * recomputed once that many bytes are in, and over every byte once nothing more will come
 * (`final`). A resumed answer already is the from-scratch one at every length. Either way the
 * answer at the cap, the deadline or EOF never depends on how the bytes arrived. (A resumable
 * parser that also says what it needs, TLS inside a record, is still carried on at each growth:
 * constant work per segment, so linear overall.)
 */
import type { HttpRequestHead } from '../protocols/http/request.js';
import type { ParsedValue } from '../protocols/index.js';
import type { FactsView } from '../protocols/match-context.js';
import { resumeOf, type ParseResult } from '../protocols/result.js';
import type { ClientHello } from '../protocols/tls/client-hello.js';
import { DATAGRAM_ALIASES, DATAGRAM_PARSERS, PARSERS, type ParserKey } from '../protocols/table.js';

interface Slot {
  result: ParseResult<unknown>;
  /** Buffer length the result was computed at. */
  at: number;
}

export class Facts implements FactsView {
  private bytes: Uint8Array = EMPTY;
  /** A UDP flow's datagrams so far; undefined for a TCP stream. */
  private datagrams: readonly Uint8Array[] | undefined;
  /** How much input the parsers have seen: stream bytes, or datagram bytes summed. */
  private size = 0;
  private readonly slots = new Map<ParserKey, Slot>();
  /** No more bytes will be waited for: every answer is computed over all of them. */
  private final = false;
  private text: string | undefined;
  private textLength = -1;
  /** Conditions' own per-connection state (created on first use: most connections need none). */
  private memos: Map<object, unknown> | undefined;
  /**
   * Set during an evaluation by a condition that put off work until more bytes come (bytes.regex):
   * the inspection session then asks again, with `catchingUp`, once the client pauses (src/inspect/session.ts).
   */
  deferred = false;
  /** Set by the inspector for an evaluation that only catches up on deferred work (no new bytes). */
  catchingUp = false;

  constructor(private readonly maxBytes: number) {}

  /** Forgets the bytes and every parse (the connection was routed and its facts were summarised). */
  clear(): void {
    this.bytes = EMPTY;
    this.datagrams = undefined;
    this.size = 0;
    this.final = false;
    this.text = undefined;
    this.textLength = -1;
    this.slots.clear();
    this.memos = undefined;
  }

  /**
   * Called by the inspector before each evaluation: the bytes so far (each call's bytes start with
   * the previous call's: the stream only grows), and whether nothing more will come.
   */
  update(bytes: Uint8Array, final = false): void {
    this.bytes = bytes;
    this.size = bytes.length;
    this.final = final;
    this.deferred = false;
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

  /**
   * The answer of one parser over the bytes so far (computed at most once per growth), typed by
   * its key. The one place a slot's answer meets its type: a slot holds only its key's parser's answers.
   */
  get<K extends ParserKey>(asked: K): ParseResult<ParsedValue<K>> {
    return this.answer(asked) as ParseResult<ParsedValue<K>>;
  }

  private answer(asked: ParserKey): ParseResult<unknown> {
    const datagrams = this.datagrams;
    // On UDP `protocol: quic` and the tls conditions read the same ClientHello: parse it once.
    const key = datagrams === undefined ? asked : (DATAGRAM_ALIASES[asked] ?? asked);
    const slot = this.slots.get(key);
    const n = this.size;
    if (slot !== undefined && !stale(slot, n, this.final)) return slot.result;
    let result: ParseResult<unknown>;
    if (datagrams !== undefined) {
      const parse = DATAGRAM_PARSERS[key];
      result = parse === undefined || datagrams.length === 0 ? NOT_ON_UDP : parse(datagrams, this.maxBytes);
    } else {
      const parse = PARSERS[key];
      result = parse === undefined ? NOT_ON_TCP : parse(this.bytes, this.maxBytes, resumeOf(slot?.result));
    }
    if (slot === undefined) this.slots.set(key, { result, at: n });
    else {
      slot.result = result;
      slot.at = n;
    }
    return result;
  }

  tls(): ParseResult<ClientHello> {
    return this.get('tls');
  }

  http(): ParseResult<HttpRequestHead> {
    return this.get('http');
  }

  /**
   * The bytes so far read as latin1 (one character per byte), decoded at most once per length and
   * shared by every condition that reads text.
   */
  latin1(): string {
    const b = this.bytes;
    if (this.textLength !== b.length) {
      this.text = Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
      this.textLength = b.length;
    }
    return this.text!;
  }

  /** What a condition remembered on this connection under `key` (an object it owns), if anything. */
  recall<T>(key: object): T | undefined {
    return this.memos?.get(key) as T | undefined;
  }

  remember(key: object, value: unknown): void {
    (this.memos ??= new Map()).set(key, value);
  }

  /** A parser's value when it was already computed and complete (for logs), without parsing anew. */
  known<K extends ParserKey>(key: K): ParsedValue<K> | undefined {
    const r = this.slots.get(key)?.result;
    return r?.kind === 'ok' ? (r.value as ParsedValue<K>) : undefined;
  }

  clientHello(): ClientHello | undefined {
    return this.known('tls');
  }

  httpHead(): HttpRequestHead | undefined {
    return this.known('http');
  }
}

const EMPTY = new Uint8Array(0);
const NOT_ON_TCP: ParseResult<never> = Object.freeze({ kind: 'invalid', reason: 'a protocol portplex recognises only over UDP' });
const NOT_ON_UDP: ParseResult<never> = Object.freeze({ kind: 'invalid', reason: 'a protocol portplex recognises only over TCP' });

function stale(slot: Slot, length: number, final: boolean): boolean {
  const r = slot.result;
  if (r.kind !== 'incomplete') return false;
  if (length === slot.at) return false;
  // Resuming reads only the new bytes: carry on at every growth, so the answer is exact at every length.
  if ('resume' in r) return true;
  // Otherwise wait for what the parser said it needs — but not once nothing more will come.
  return r.needed === undefined || length >= r.needed || final;
}
