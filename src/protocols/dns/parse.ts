/**
 * The first datagram of a DNS client over UDP: a request a DNS server would accept (RFC 1035 §4.1).
 *
 * Header (RFC 1035 §4.1.1; AD/CD from RFC 4035 §3.2, Z is the one bit left of RFC 1035's three):
 *
 *   ID      2 bytes
 *   byte 2  QR(1) OPCODE(4) AA(1) TC(1) RD(1)
 *   byte 3  RA(1) Z(1) AD(1) CD(1) RCODE(4)
 *   QDCOUNT ANCOUNT NSCOUNT ARCOUNT, 2 bytes each, big-endian
 *
 * then QDCOUNT questions (§4.1.2: QNAME, QTYPE 2, QCLASS 2) and ANCOUNT + NSCOUNT + ARCOUNT resource
 * records (§4.1.3: NAME, TYPE 2, CLASS 2, TTL 4, RDLENGTH 2, RDATA).
 *
 * What is accepted, decided the way a server decides what it answers rather than drops or FORMERRs:
 * - QR = 0 (a response is never a client's first datagram), RCODE = 0, Z = 0 (RFC 1035: "must be zero
 *   in all queries"). AD and CD are allowed: RFC 6840 §5.7 / §5.8 let a client set them in a query
 *   (glibc's `options trust-ad` sets AD). AA, TC and RA mean nothing in a request and are ignored, as
 *   servers do.
 * - OPCODE QUERY (0), NOTIFY (4, RFC 1996) and UPDATE (5, RFC 2136): an authoritative server takes all
 *   three on port 53, so all three are DNS to a multiplexer (a recursive resolver would REFUSE or
 *   NOTIMP the last two, but it would still answer). IQUERY (1) is obsolete (RFC 3425), STATUS (2) was
 *   never defined, DSO (6) is TCP-only (RFC 8490 §5.1); those and the unassigned ones are invalid.
 * - QDCOUNT = 1 (RFC 9619 for QUERY; RFC 2136 §2.3 "exactly one" zone for UPDATE; NOTIFY carries one
 *   SOA question, RFC 1996 §3.7). The question name has no compression pointer (nothing precedes it to
 *   point to), QTYPE is not 0 (reserved) or OPT (41, a pseudo-type, RFC 6891 §6.1.1), QCLASS is not 0.
 *   UPDATE's zone "question" must have ZTYPE SOA (RFC 2136 §2.3).
 * - QUERY: ANCOUNT = 0 and NSCOUNT = 0, except an IXFR (QTYPE 251) query, which carries the client's
 *   SOA in the authority section (RFC 1995 §3): NSCOUNT = 1 with an SOA record. The additional section
 *   holds only OPT and/or TSIG, so ARCOUNT is 0..2: 0..1 for EDNS (RFC 6891), 2 only for OPT + TSIG (a
 *   secondary's signed SOA refresh query). NOTIFY and UPDATE may carry records in every section
 *   (RFC 1996 §3.7, RFC 2136 §2.4-2.5); those are walked (names, lengths) but their RDATA is not read.
 * - Every section: at most one OPT, with the root as owner name (RFC 6891 §6.1.1, §6.1.2); TSIG (250) only
 *   as the last additional record (RFC 8945 §5.2: else FORMERR). OPT's RDATA must be whole options
 *   (code 2, length 2, data), exactly filling RDLENGTH (RFC 6891 §6.1.2); the option codes are returned
 *   (cookie 10, RFC 7873; padding 12, RFC 7830) but their contents are not judged. EDNS versions above 0
 *   are accepted (the server answers BADVERS, RFC 6891 §6.1.3: it is still DNS).
 * - Names in records may use compression pointers (RFC 1035 §4.1.4), only to an earlier offset inside the
 *   message (after the header) and each one further back than the last, so that no loop is possible;
 *   label types 01 and 10 (RFC 6891 §5 retired the extended labels) are invalid. A name is at most 255
 *   octets and a label at most 63 (RFC 1035 §2.3.4), counted on the wire form.
 * - Nothing may follow the last record: a datagram holds one message (RFC 1035 §4.2.1).
 *
 * Datagram semantics (result.ts DatagramParseResult): never incomplete. A datagram that ends before what
 * its header announces is invalid with a reason starting with "truncated"; every strict prefix of an
 * accepted query is such a truncation, because records are self-delimiting and counted by the header.
 *
 * qname: lowercased (ASCII only, RFC 4343 §3), labels joined with ".", no trailing dot; the root is ".".
 * A label byte that is "." or "\" is written "\." / "\\", a byte outside 0x21..0x7e as "\DDD" (three
 * decimal digits), the presentation format of RFC 1035 §5.1, so the text names exactly one wire name.
 */
import { invalid, ok, type DatagramParseResult } from '../result.js';
import { u16 } from '../bytes.js';

export type DnsOpcode = 'QUERY' | 'NOTIFY' | 'UPDATE';

export interface DnsEdns {
  readonly udpPayloadSize: number; // the OPT CLASS field, as sent (RFC 6891 §6.2.5: < 512 means 512)
  readonly version: number;
  readonly dnssecOk: boolean; // the DO bit (RFC 3225)
  readonly options: readonly number[]; // option codes in the order sent
}

export interface DnsQuery {
  readonly id: number;
  readonly opcode: DnsOpcode;
  readonly flags: { readonly rd: boolean; readonly ad: boolean; readonly cd: boolean };
  readonly qname: string; // for UPDATE: the zone
  readonly qtype: number;
  readonly qclass: number;
  readonly edns: DnsEdns | undefined;
  readonly tsig: boolean; // signed with a TSIG record (RFC 8945); not verified
}

const HEADER = 12;
const MAX_NAME = 255;
const OPCODES: ReadonlyMap<number, DnsOpcode> = new Map([
  [0, 'QUERY'],
  [4, 'NOTIFY'],
  [5, 'UPDATE'],
]);
const TYPE_SOA = 6;
const TYPE_OPT = 41;
const TYPE_IXFR = 251;
const TYPE_TSIG = 250;

/** A reason (string) or what was read. */
type Read<T> = T | string;

/** RFC 1035 §5.1 presentation of one label, lowercased. */
function labelText(b: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let k = at; k < at + len; k++) {
    const c = b[k]!;
    if (c >= 0x41 && c <= 0x5a) s += String.fromCharCode(c + 0x20);
    else if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c < 0x21 || c > 0x7e) s += '\\' + String(c).padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s;
}

/**
 * The name at `at`: its presentation text and the offset just past it where it is written (after the
 * first pointer, if any). `where` names the place for reasons.
 */
function readName(b: Uint8Array, at: number, pointers: boolean, where: string): Read<{ end: number; text: string }> {
  const labels: string[] = [];
  let pos = at;
  let end = -1;
  let floor = at; // a pointer must point before this: strictly backwards, so no loop
  let wire = 0;
  for (;;) {
    if (pos >= b.length) return `truncated: the datagram ends inside the ${where}`;
    const len = b[pos]!;
    const type = len & 0xc0;
    if (type === 0xc0) {
      if (!pointers) return `compression pointer in the ${where} (nothing before it to point to)`;
      if (pos + 1 >= b.length) return `truncated: the datagram ends inside the ${where}`;
      const target = ((len & 0x3f) << 8) | b[pos + 1]!;
      if (end < 0) end = pos + 2;
      if (target < HEADER || target >= floor) return `compression pointer in the ${where} does not point back into the message`;
      floor = target;
      pos = target;
      continue;
    }
    if (type !== 0) return `label type 0x${type.toString(16)} in the ${where} is not defined (RFC 6891 §5)`;
    wire += 1 + len;
    if (wire > MAX_NAME) return `${where} longer than ${MAX_NAME} octets`;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { end, text: labels.length === 0 ? '.' : labels.join('.') };
    }
    if (pos + 1 + len > b.length) return `truncated: the datagram ends inside the ${where}`;
    labels.push(labelText(b, pos + 1, len));
    pos += 1 + len;
  }
}

interface Rr {
  readonly end: number;
  readonly type: number;
  readonly cls: number;
  readonly ttl: number;
  readonly rdata: number; // offset of RDATA
  readonly rootOwner: boolean;
}

function readRecord(b: Uint8Array, at: number, where: string): Read<Rr> {
  const name = readName(b, at, true, `owner name of ${where}`);
  if (typeof name === 'string') return name;
  const p = name.end;
  if (p + 10 > b.length) return `truncated: the datagram ends inside ${where}`;
  const rdlength = u16(b, p + 8);
  if (p + 10 + rdlength > b.length) return `truncated: the datagram ends inside the RDATA of ${where}`;
  const ttl = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
  return { end: p + 10 + rdlength, type: u16(b, p), cls: u16(b, p + 2), ttl, rdata: p + 10, rootOwner: b[at] === 0 };
}

/** RFC 6891 §6.1.2-§6.1.3: the OPT record as EDNS parameters; its options must fill RDATA exactly. */
function readOpt(b: Uint8Array, rr: Rr): Read<DnsEdns> {
  if (!rr.rootOwner) return 'OPT record whose owner is not the root (RFC 6891 §6.1.2)';
  const options: number[] = [];
  let p = rr.rdata;
  while (p < rr.end) {
    if (p + 4 > rr.end) return 'OPT RDATA ends inside an option header';
    const len = u16(b, p + 2);
    if (p + 4 + len > rr.end) return 'OPT option runs past the RDATA';
    options.push(u16(b, p));
    p += 4 + len;
  }
  return { udpPayloadSize: rr.cls, version: (rr.ttl >>> 16) & 0xff, dnssecOk: (rr.ttl & 0x8000) !== 0, options };
}

export function parseDnsQuery(datagram: Uint8Array): DatagramParseResult<DnsQuery> {
  const b = datagram;
  if (b.length < HEADER) return invalid(`truncated: ${b.length} bytes, shorter than the 12-byte DNS header`);
  if ((b[2]! & 0x80) !== 0) return invalid('a DNS response (QR = 1), not a query');
  const op = (b[2]! >> 3) & 0x0f;
  const opcode = OPCODES.get(op);
  if (opcode === undefined) return invalid(`DNS opcode ${op} is not QUERY, NOTIFY or UPDATE`);
  if ((b[3]! & 0x40) !== 0) return invalid('DNS Z bit set in a query (RFC 1035 §4.1.1: must be zero)');
  if ((b[3]! & 0x0f) !== 0) return invalid(`DNS RCODE ${b[3]! & 0x0f} in a query (must be 0)`);
  const qd = u16(b, 4);
  const an = u16(b, 6);
  const ns = u16(b, 8);
  const ar = u16(b, 10);
  if (qd !== 1) return invalid(`QDCOUNT ${qd}, not 1 (RFC 9619)`);

  const q = readName(b, HEADER, false, 'question name');
  if (typeof q === 'string') return invalid(q);
  if (q.end + 4 > b.length) return invalid('truncated: the datagram ends inside QTYPE / QCLASS');
  const qtype = u16(b, q.end);
  const qclass = u16(b, q.end + 2);
  if (qtype === 0 || qtype === TYPE_OPT) return invalid(`QTYPE ${qtype} cannot be asked for (reserved / OPT pseudo-type)`);
  if (qclass === 0) return invalid('QCLASS 0 is reserved');
  if (opcode === 'UPDATE' && qtype !== TYPE_SOA) return invalid('UPDATE zone section with a ZTYPE other than SOA (RFC 2136 §2.3)');
  if (opcode === 'QUERY') {
    if (an !== 0) return invalid(`a QUERY with ${an} answer records`);
    const nsAllowed = qtype === TYPE_IXFR ? 1 : 0;
    if (ns !== nsAllowed) return invalid(qtype === TYPE_IXFR ? 'an IXFR query without exactly one SOA in the authority section (RFC 1995 §3)' : `a QUERY with ${ns} authority records`);
    if (ar > 2) return invalid(`a QUERY with ${ar} additional records (only OPT and TSIG belong there)`);
  }

  let p = q.end + 4;
  for (let k = 0; k < an + ns; k++) {
    const section = k < an ? 'answer' : 'authority';
    const rr = readRecord(b, p, `an ${section} record`);
    if (typeof rr === 'string') return invalid(rr);
    if (rr.type === TYPE_OPT || rr.type === TYPE_TSIG) return invalid(`${rr.type === TYPE_OPT ? 'OPT' : 'TSIG'} record in the ${section} section`);
    if (opcode === 'QUERY' && rr.type !== TYPE_SOA) return invalid('an IXFR query without exactly one SOA in the authority section (RFC 1995 §3)');
    p = rr.end;
  }
  let edns: DnsEdns | undefined;
  let tsig = false;
  for (let k = 0; k < ar; k++) {
    const rr = readRecord(b, p, 'an additional record');
    if (typeof rr === 'string') return invalid(rr);
    if (tsig) return invalid('TSIG is not the last additional record (RFC 8945 §5.2)');
    if (rr.type === TYPE_OPT) {
      if (edns !== undefined) return invalid('more than one OPT record (RFC 6891 §6.1.1)');
      const opt = readOpt(b, rr);
      if (typeof opt === 'string') return invalid(opt);
      edns = opt;
    } else if (rr.type === TYPE_TSIG) {
      tsig = true;
    } else if (opcode === 'QUERY') {
      return invalid(`a QUERY with an additional record of type ${rr.type} (only OPT and TSIG belong there)`);
    }
    p = rr.end;
  }
  if (p !== b.length) return invalid(`${b.length - p} bytes after the last record`);

  const flags = { rd: (b[2]! & 0x01) !== 0, ad: (b[3]! & 0x20) !== 0, cd: (b[3]! & 0x10) !== 0 };
  return ok({ id: u16(b, 0), opcode, flags, qname: q.text, qtype, qclass, edns, tsig }, b.length);
}
