/**
 * The queries a DNS flow relayed that have no answer yet, by message ID: over UDP a query gets one
 * response datagram with the same ID (RFC 1035 §4.1.1, §4.2.1), so once every ID seen from the
 * client came back from the server the flow has nothing left to carry and can end at once, like
 * nginx's `proxy_responses`. A resolver that retries reuses the ID; one that asks A and AAAA from
 * one socket (glibc) sends two IDs, and the flow waits for both.
 */

/** Header of a DNS message: ID (2 bytes), then QR as the top bit of byte 2 (RFC 1035 §4.1.1). */
const HEADER = 12;
/** More outstanding queries than this is no stub resolver: the flow then ends by its idle timeout. */
const MAX_WAITING = 16;

/** The ID of a DNS message and whether it is a response; undefined when shorter than a header. */
export function dnsMessageId(datagram: Uint8Array): { readonly id: number; readonly response: boolean } | undefined {
  if (datagram.length < HEADER) return undefined;
  return { id: (datagram[0]! << 8) | datagram[1]!, response: (datagram[2]! & 0x80) !== 0 };
}

export class DnsExchange {
  private readonly waiting = new Set<number>();
  /** Something not a plain query came from the client, or too many: never end early. */
  private unusual = false;

  /** A datagram relayed from the client to the server. */
  query(datagram: Uint8Array): void {
    const m = dnsMessageId(datagram);
    if (m === undefined || m.response || this.waiting.size >= MAX_WAITING) this.unusual = true;
    else this.waiting.add(m.id);
  }

  /** A datagram from the server; true once every query relayed so far has its answer. */
  answered(datagram: Uint8Array): boolean {
    const m = dnsMessageId(datagram);
    if (m === undefined || !m.response || !this.waiting.delete(m.id)) return false;
    return this.waiting.size === 0 && !this.unusual;
  }
}
