/**
 * MQTT CONNECT, the first packet an MQTT client sends: MQTT 3.1.1 (OASIS Standard, §2.2, §3.1)
 * and MQTT 5.0 (OASIS Standard, §2.1, §3.1); MQTT 3.1 (IBM, protocol name "MQIsdp") is accepted
 * as level 3 with the 3.1.1 rules.
 *
 * Layout (3.1.1 §2.2, §3.1.2, §3.1.3; 5.0 §2.1, §3.1.2, §3.1.3):
 *
 *   0x10                            packet type 1 (CONNECT), flags 0000 (3.1.1 §2.2.2 [MQTT-2.2.2-2];
 *                                   5.0 §2.1.3): any other first byte is invalid
 *   Remaining Length                Variable Byte Integer, 1-4 bytes, at most 268,435,455
 *                                   (3.1.1 §2.2.3; 5.0 §1.5.5, §2.1.4)
 *   Protocol Name                   UTF-8 string "MQTT" (00 04 'MQTT'), or "MQIsdp" (00 06 'MQIsdp')
 *                                   for MQTT 3.1 (3.1.1 §3.1.2.1; 5.0 §3.1.2.1)
 *   Protocol Level                  4 (3.1.1) or 5 (5.0) with "MQTT", 3 with "MQIsdp" (3.1.1 §3.1.2.2;
 *                                   5.0 §3.1.2.2)
 *   Connect Flags                   bit 0 reserved, MUST be 0 (3.1.1 §3.1.2.3 [MQTT-3.1.2-3]; 5.0
 *                                   §3.1.2.3); Will Flag 0 requires Will QoS 0 and Will Retain 0, Will
 *                                   QoS 3 is invalid (3.1.1 [MQTT-3.1.2-13], [MQTT-3.1.2-14],
 *                                   [MQTT-3.1.2-15]; 5.0 [MQTT-3.1.2-11], [MQTT-3.1.2-12],
 *                                   [MQTT-3.1.2-13]); before 5.0 a Password Flag requires the User Name
 *                                   Flag (3.1.1 [MQTT-3.1.2-22]), 5.0 allows a password alone (§3.1.2.9)
 *   Keep Alive                      Two Byte Integer (3.1.1 §3.1.2.10; 5.0 §3.1.2.10)
 *   Properties                      5.0 only: Variable Byte Integer length, then CONNECT properties
 *                                   (5.0 §3.1.2.11)
 *   Client Identifier               UTF-8 string (3.1.1 §3.1.3.1; 5.0 §3.1.3.1)
 *   [Will Properties]               5.0 only, when the Will Flag is set (5.0 §3.1.3.2)
 *   [Will Topic, Will Payload]      when the Will Flag is set: UTF-8 string, then two-byte length and
 *                                   bytes (3.1.1 §3.1.3.2-3; 5.0 §3.1.3.3-4)
 *   [User Name]                     UTF-8 string, when its flag is set (3.1.1 §3.1.3.4; 5.0 §3.1.3.5)
 *   [Password]                      two-byte length and bytes, when its flag is set (3.1.1 §3.1.3.5;
 *                                   5.0 §3.1.3.6)
 *
 * Decision: `ok` once the whole CONNECT packet has arrived (1 + length of Remaining Length +
 * Remaining Length bytes, which is `ok.length`). The packet is the first message, its length is
 * known from the fixed header, and only the complete packet can be checked against its Remaining
 * Length: the fields selected by the flags must end exactly where the packet ends (a packet too
 * short for them, or with bytes left over, is malformed). Clients send the CONNECT in one write,
 * so waiting for it costs nothing in practice. Every field is judged as soon as it has arrived, so
 * a wrong protocol name is invalid at its first wrong byte, without waiting for the rest.
 *
 * Also checked:
 * - UTF-8 strings (client id, will topic, user name, 5.0 string properties) must be well-formed
 *   UTF-8 without U+0000 (3.1.1 §1.5.3 [MQTT-1.5.3-1], [MQTT-1.5.3-2]; 5.0 §1.5.4).
 * - The will topic is a topic name: at least one character, no '+' or '#' (3.1.1 §4.7.3
 *   [MQTT-4.7.3-1], §3.3.2.1 [MQTT-3.3.2-2]; 5.0 §4.7.3, §3.3.2.1).
 * - 5.0 Variable Byte Integers must use the fewest bytes (5.0 §1.5.5 [MQTT-1.5.5-1]); 3.1.1 has no
 *   such rule, so a non-minimal Remaining Length is accepted for levels 3 and 4.
 * - 5.0 properties: only the identifiers defined for CONNECT (§3.1.2.11) and for the will
 *   (§3.1.3.2); none may repeat except User Property; Receive Maximum and Maximum Packet Size
 *   may not be 0; Request Response Information, Request Problem Information and Payload Format
 *   Indicator are 0 or 1; Authentication Data needs an Authentication Method (§3.1.2.11.10).
 * - An empty client id is accepted (the server answers it with CONNACK "identifier rejected" when
 *   it must, 3.1.1 [MQTT-3.1.3-8]; 5.0 assigns one): it is still a well-formed CONNECT.
 *
 * Not standard, accepted: a Protocol Level with its top bit set (0x83, 0x84) is what a Mosquitto
 * bridge sends with `try_private true`; Mosquitto accepts it, so it is reported as `bridge: true`
 * with level 3 or 4.
 *
 * Cap: `maxBytes` (default 16384, the same as portplex's default inspect limit) bounds the whole
 * packet; a CONNECT declaring more is invalid('CONNECT exceeds cap') as soon as its Remaining
 * Length says so. Will payloads and passwords may legally be up to 65535 bytes, so raise the cap
 * (and the inspect limit) for clients that send large wills.
 */
import { isUtf8 } from 'node:buffer';
import { u32 } from '../bytes.js';
import { incomplete, invalid, ok, type ParseResult } from '../result.js';

export interface MqttConnect {
  /** 3 = MQTT 3.1 ("MQIsdp"), 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
  readonly level: 3 | 4 | 5;
  readonly clientId: string;
  /** Present when the User Name Flag is set. */
  readonly username?: string;
  /** Present (true) when the level byte had its top bit set (Mosquitto bridge). */
  readonly bridge?: true;
}

const CONNECT_BYTE = 0x10;
const DEFAULT_CAP = 16384;
const NAME_MQTT = [0x00, 0x04, 0x4d, 0x51, 0x54, 0x54]; // 00 04 "MQTT"
const NAME_MQISDP = [0x00, 0x06, 0x4d, 0x51, 0x49, 0x73, 0x64, 0x70]; // 00 06 "MQIsdp"

type PropertyType = 'byte' | 'u16' | 'u32' | 'string' | 'binary' | 'pair';

/** CONNECT properties, MQTT 5.0 §3.1.2.11. */
const CONNECT_PROPERTIES: ReadonlyMap<number, PropertyType> = new Map([
  [0x11, 'u32'], // Session Expiry Interval
  [0x21, 'u16'], // Receive Maximum
  [0x27, 'u32'], // Maximum Packet Size
  [0x22, 'u16'], // Topic Alias Maximum
  [0x19, 'byte'], // Request Response Information
  [0x17, 'byte'], // Request Problem Information
  [0x26, 'pair'], // User Property
  [0x15, 'string'], // Authentication Method
  [0x16, 'binary'], // Authentication Data
]);

/** Will properties, MQTT 5.0 §3.1.3.2. */
const WILL_PROPERTIES: ReadonlyMap<number, PropertyType> = new Map([
  [0x18, 'u32'], // Will Delay Interval
  [0x01, 'byte'], // Payload Format Indicator
  [0x02, 'u32'], // Message Expiry Interval
  [0x03, 'string'], // Content Type
  [0x08, 'string'], // Response Topic
  [0x09, 'binary'], // Correlation Data
  [0x26, 'pair'], // User Property
]);

const USER_PROPERTY = 0x26;
const BOOLEAN_PROPERTIES = new Set([0x19, 0x17, 0x01]);
const NONZERO_PROPERTIES = new Set([0x21, 0x27]);

/**
 * Reads fields of one packet in order. A read that would pass `bound` (the packet end, or the end
 * of a property block) is invalid: the packet is malformed whatever comes next. A read within the
 * bound that passes the bytes received so far waits for the whole packet.
 */
class Cursor {
  pos: number;
  stop: ParseResult<never> | undefined;

  constructor(
    private readonly bytes: Uint8Array,
    pos: number,
    readonly packetEnd: number,
  ) {
    this.pos = pos;
  }

  has(n: number, bound: number, what: string): boolean {
    if (this.pos + n > bound) {
      this.stop = invalid(`${what} exceeds ${bound === this.packetEnd ? 'the remaining length' : 'the property length'}`);
      return false;
    }
    if (this.pos + n > this.bytes.length) {
      this.stop = incomplete(this.packetEnd);
      return false;
    }
    return true;
  }

  u8(): number {
    return this.bytes[this.pos++]!;
  }

  u16(): number {
    const v = (this.bytes[this.pos]! << 8) | this.bytes[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(): number {
    const b = this.bytes;
    const p = this.pos;
    this.pos += 4;
    return u32(b, p);
  }

  /** MQTT 5.0 Variable Byte Integer (§1.5.5), minimal encoding required; undefined when stopped. */
  varint(bound: number, what: string): number | undefined {
    let value = 0;
    for (let k = 0; k < 4; k++) {
      if (!this.has(1, bound, what)) return undefined;
      const b = this.u8();
      value += (b & 0x7f) * 128 ** k;
      if ((b & 0x80) === 0) {
        if (k > 0 && b === 0) return this.fail(`${what} is not minimally encoded`);
        return value;
      }
    }
    return this.fail(`malformed ${what}`);
  }

  /** Two-byte length, then that many bytes; returns [start, end) or undefined when stopped. */
  lengthPrefixed(bound: number, what: string): [number, number] | undefined {
    if (!this.has(2, bound, what)) return undefined;
    const len = this.u16();
    this.pos -= 2;
    if (!this.has(2 + len, bound, what)) return undefined;
    const start = this.pos + 2;
    this.pos = start + len;
    return [start, start + len];
  }

  /** UTF-8 Encoded String (3.1.1 §1.5.3, 5.0 §1.5.4). */
  string(bound: number, what: string): string | undefined {
    const span = this.lengthPrefixed(bound, what);
    if (span === undefined) return undefined;
    const view = this.bytes.subarray(span[0], span[1]);
    if (view.includes(0) || !isUtf8(view)) return this.fail(`${what} is not a valid UTF-8 string`);
    return Buffer.from(view.buffer, view.byteOffset, view.length).toString('utf8');
  }

  fail(reason: string): undefined {
    this.stop = invalid(reason);
    return undefined;
  }

  refuse(reason: string): false {
    this.stop = invalid(reason);
    return false;
  }
}

/** Checks a 5.0 property block (§2.2.2) of `length` bytes at the cursor against `allowed`. */
function properties(c: Cursor, length: number, allowed: ReadonlyMap<number, PropertyType>, what: string): boolean {
  const end = c.pos + length;
  const seen = new Set<number>();
  while (c.pos < end) {
    if (!c.has(1, end, what)) return false;
    const id = c.u8();
    const type = allowed.get(id);
    if (type === undefined) return c.refuse(`unknown ${what} 0x${id.toString(16).padStart(2, '0')}`);
    if (seen.has(id) && id !== USER_PROPERTY) return c.refuse(`repeated ${what} 0x${id.toString(16).padStart(2, '0')}`);
    seen.add(id);
    switch (type) {
      case 'byte': {
        if (!c.has(1, end, what)) return false;
        const v = c.u8();
        if (BOOLEAN_PROPERTIES.has(id) && v > 1) return c.refuse(`${what} 0x${id.toString(16).padStart(2, '0')} must be 0 or 1`);
        break;
      }
      case 'u16':
      case 'u32': {
        const n = type === 'u16' ? 2 : 4;
        if (!c.has(n, end, what)) return false;
        const v = n === 2 ? c.u16() : c.u32();
        if (NONZERO_PROPERTIES.has(id) && v === 0) return c.refuse(`${what} 0x${id.toString(16).padStart(2, '0')} must not be 0`);
        break;
      }
      case 'string':
        if (c.string(end, what) === undefined) return false;
        break;
      case 'binary':
        if (c.lengthPrefixed(end, what) === undefined) return false;
        break;
      case 'pair':
        if (c.string(end, what) === undefined || c.string(end, what) === undefined) return false;
        break;
    }
  }
  // Authentication Data without Authentication Method is a Protocol Error (5.0 §3.1.2.11.10).
  if (seen.has(0x16) && !seen.has(0x15)) return c.refuse('authentication data without an authentication method');
  return true;
}

/** Whether bytes[at..) so far is a prefix of `word` (only the first `have` bytes are compared). */
function startsLike(bytes: Uint8Array, at: number, have: number, word: readonly number[]): boolean {
  for (let k = 0; k < Math.min(have, word.length); k++) if (bytes[at + k] !== word[k]) return false;
  return true;
}

/**
 * Parses an MQTT CONNECT packet from all bytes received so far. `maxBytes` caps the whole packet
 * (fixed header included).
 */
export function parseMqttConnect(bytes: Uint8Array, maxBytes: number = DEFAULT_CAP): ParseResult<MqttConnect> {
  const cap = Number.isFinite(maxBytes) && maxBytes >= 1 ? Math.floor(maxBytes) : DEFAULT_CAP;

  // --- Fixed header (3.1.1 §2.2; 5.0 §2.1) ---
  if (bytes.length < 1) return incomplete();
  if (bytes[0] !== CONNECT_BYTE) {
    return invalid(bytes[0]! >> 4 === 1 ? 'reserved flags set in the CONNECT fixed header' : 'not an MQTT CONNECT packet');
  }
  let remaining = 0;
  let rlBytes = 0;
  let rlMinimal = true;
  for (;;) {
    if (1 + rlBytes >= bytes.length) return incomplete();
    const b = bytes[1 + rlBytes]!;
    remaining += (b & 0x7f) * 128 ** rlBytes;
    rlBytes++;
    // The value only grows with more bytes: refuse as soon as the cap is passed.
    if (1 + rlBytes + remaining > cap) return invalid('CONNECT exceeds cap');
    if ((b & 0x80) === 0) {
      if (rlBytes > 1 && b === 0) rlMinimal = false;
      break;
    }
    if (rlBytes === 4) return invalid('malformed remaining length');
  }
  const end = 1 + rlBytes + remaining;
  const c = new Cursor(bytes, 1 + rlBytes, end);

  // --- Protocol Name (3.1.1 §3.1.2.1; 5.0 §3.1.2.1), judged byte by byte ---
  const have = Math.min(bytes.length, end) - c.pos;
  const names = [NAME_MQTT, NAME_MQISDP].filter((w) => startsLike(bytes, c.pos, have, w));
  if (names.length === 0) return invalid('unknown MQTT protocol name');
  const fitting = names.filter((w) => c.pos + w.length <= end);
  if (fitting.length === 0) return invalid('protocol name exceeds the remaining length');
  if (have < 2) return incomplete(end); // both names still possible
  const name = fitting[0]!;
  if (!c.has(name.length, end, 'protocol name')) return c.stop!;
  c.pos += name.length;

  // --- Protocol Level (3.1.1 §3.1.2.2; 5.0 §3.1.2.2) ---
  if (!c.has(1, end, 'protocol level')) return c.stop!;
  const levelByte = c.u8();
  const raw = levelByte & 0x7f;
  const bridge = (levelByte & 0x80) !== 0;
  let level: 3 | 4 | 5;
  if (name === NAME_MQISDP && raw === 3) level = 3;
  else if (name === NAME_MQTT && raw === 4) level = 4;
  else if (name === NAME_MQTT && raw === 5 && !bridge) level = 5;
  else return invalid('unsupported MQTT protocol level');
  if (level === 5 && !rlMinimal) return invalid('remaining length is not minimally encoded');

  // --- Connect Flags (3.1.1 §3.1.2.3-§3.1.2.9; 5.0 §3.1.2.3-§3.1.2.9) ---
  if (!c.has(1, end, 'connect flags')) return c.stop!;
  const flags = c.u8();
  if (flags & 0x01) return invalid('reserved connect flag is set');
  const will = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  const hasUsername = (flags & 0x80) !== 0;
  if (willQos === 3) return invalid('will QoS 3 is invalid');
  if (!will && (willQos !== 0 || willRetain)) return invalid('will QoS or retain set without the will flag');
  if (level !== 5 && hasPassword && !hasUsername) return invalid('password flag set without the user name flag');

  // --- Keep Alive (3.1.1 §3.1.2.10; 5.0 §3.1.2.10) ---
  if (!c.has(2, end, 'keep alive')) return c.stop!;
  c.pos += 2;

  // --- CONNECT Properties (5.0 §3.1.2.11) ---
  if (level === 5) {
    const len = c.varint(end, 'property length');
    if (len === undefined) return c.stop!;
    if (c.pos + len > end) return invalid('property length exceeds the remaining length');
    if (!properties(c, len, CONNECT_PROPERTIES, 'CONNECT property')) return c.stop!;
  }

  // --- Payload (3.1.1 §3.1.3; 5.0 §3.1.3) ---
  const clientId = c.string(end, 'client identifier');
  if (clientId === undefined) return c.stop!;

  if (will) {
    if (level === 5) {
      const len = c.varint(end, 'will property length');
      if (len === undefined) return c.stop!;
      if (c.pos + len > end) return invalid('will property length exceeds the remaining length');
      if (!properties(c, len, WILL_PROPERTIES, 'will property')) return c.stop!;
    }
    const topic = c.string(end, 'will topic');
    if (topic === undefined) return c.stop!;
    if (topic === '' || topic.includes('+') || topic.includes('#')) return invalid('will topic is not a valid topic name');
    if (c.lengthPrefixed(end, 'will payload') === undefined) return c.stop!;
  }

  let username: string | undefined;
  if (hasUsername) {
    username = c.string(end, 'user name');
    if (username === undefined) return c.stop!;
  }
  if (hasPassword && c.lengthPrefixed(end, 'password') === undefined) return c.stop!;

  if (c.pos !== end) return invalid('bytes after the last CONNECT payload field');

  const value: { level: 3 | 4 | 5; clientId: string; username?: string; bridge?: true } = { level, clientId };
  if (username !== undefined) value.username = username;
  if (bridge) value.bridge = true;
  return ok(value, end);
}
