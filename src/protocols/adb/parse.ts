/**
 * The first message of an Android Debug Bridge host (adb server) connecting to a device over TCP:
 * CONNECT(version, maxdata, "system-identity-string").
 *
 * Layout (AOSP adb/protocol.txt, "protocol overview and basics" and "CONNECT"): a 24-byte header of
 * six little-endian 32-bit words, then data_length bytes of payload:
 *
 *   command      A_CNXN = 0x4e584e43 ("CNXN" on the wire)
 *   arg0         version: A_VERSION_MIN 0x01000000, A_VERSION_SKIP_CHECKSUM 0x01000001
 *   arg1         maxdata: the largest message body the sender accepts (4096 in old adb, 256 KiB,
 *                1 MiB in current adb)
 *   data_length  payload bytes ("0 is allowed" in general; see below for CNXN)
 *   data_check   called data_crc32 in protocol.txt, but adb computes a plain byte sum of the payload
 *                (calculate_apacket_checksum), and sends 0 once version >= 0x01000001 is negotiated
 *   magic        command ^ 0xffffffff
 *   payload      "<systemtype>:<serialno>:<banner>", from a host "host::features=shell_v2,cmd,..."
 *                (older adb: "host::\0")
 *
 * Checks (each decided as soon as its bytes are there):
 * - command "CNXN" and magic = command ^ 0xffffffff (adb's check_header checks the magic).
 * - version: major byte 0x01 (0x01000000..0x01ffffff). protocol.txt: a CONNECT "with an unknown
 *   version ... must be closed"; adb itself takes min(version, A_VERSION), so minor versions above
 *   the current one are accepted.
 * - maxdata at least 1 (adb takes min(maxdata, MAX_PAYLOAD); 0 could carry nothing).
 * - data_length 5..4096: the payload must start with "host:" (sslh probe.c probe_adb_cnxn_message:
 *   "The initial ADB host->device packet has a command type of CNXN, and a data payload starting
 *   with "host:""), and protocol.txt: "CONNECT and AUTH packets sent to a device must not be larger
 *   than" 4096, because old devices hard-coded maxdata = 4096. That is the cap.
 * - data_check: 0 or the byte sum of the payload (mod 2^32); anything else is invalid.
 * - payload: "host:" then bytes 0x20-0x7e or 0x80-0xff (UTF-8 properties), with one optional NUL as
 *   the very last byte (older adb sends "host::\0"); systemIdentity is the payload without that NUL,
 *   decoded as UTF-8.
 *
 * Leading empty message (sslh probe.c is_adb_protocol): "In ADB v26.0.0 rc1-4321094, the initial
 * host->device packet sends an empty message before sending the CNXN command type" — 24 bytes, all
 * zero but the magic ff ff ff ff (command 0 ^ 0xffffffff). Following sslh, a connection that starts
 * with exactly those 24 bytes is accepted when a CNXN message follows them; the ok length then
 * counts both messages (24 + 24 + data_length).
 *
 * ok once the whole CNXN message is there; incomplete with needed = the header end, then the message
 * end. sslh waits for 30 bytes and checks "CNXN" and "host:" only.
 */
import { incomplete, invalid, ok, type ParseResult } from '../result.js';

export interface AdbConnect {
  /** arg0: the protocol version (0x01000000 or 0x01000001 in current adb). */
  readonly version: number;
  /** arg1: maxdata. */
  readonly maxData: number;
  /** The payload (system-identity-string) without a trailing NUL, e.g. "host::features=shell_v2,cmd". */
  readonly systemIdentity?: string;
}

export const A_CNXN = 0x4e584e43;
const HEADER = 24;
export const ADB_CNXN_MAX_DATA = 4096;
const HOST_PREFIX = [0x68, 0x6f, 0x73, 0x74, 0x3a]; // "host:"
const CNXN_BYTES = [0x43, 0x4e, 0x58, 0x4e]; // A_CNXN little-endian: "CNXN"
const CNXN_MAGIC_BYTES = CNXN_BYTES.map((b) => b ^ 0xff);
/** sslh's empty_message: command, arg0, arg1, data_length, data_check all 0; magic 0xffffffff. */
const EMPTY_MESSAGE = [...new Array<number>(20).fill(0), 0xff, 0xff, 0xff, 0xff];

function u32le(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

export function parseAdbConnect(bytes: Uint8Array): ParseResult<AdbConnect> {
  const have = bytes.length;
  let base = 0;
  if (have >= 1 && bytes[0] === 0x00) {
    for (let k = 0; k < HEADER; k++) {
      if (k >= have) return incomplete();
      if (bytes[k] !== EMPTY_MESSAGE[k]) return invalid('not an ADB CNXN message');
    }
    base = HEADER;
  }
  const headerEnd = base + HEADER;
  // The header is checked byte by byte as it arrives: no `needed`, which would stop facts.ts asking.
  const more = (): ParseResult<AdbConnect> => incomplete();

  for (let k = 0; k < 4; k++) {
    if (base + k >= have) return more();
    if (bytes[base + k] !== CNXN_BYTES[k]) return invalid('not an ADB CNXN message');
  }
  // arg0 = version: the major byte (the last one, little-endian) must be 0x01.
  if (base + 7 >= have) return more();
  if (bytes[base + 7] !== 0x01) return invalid('unknown ADB protocol version');
  if (base + 12 > have) return more();
  const version = u32le(bytes, base + 4);
  const maxData = u32le(bytes, base + 8);
  if (maxData === 0) return invalid('ADB CNXN with maxdata 0');
  if (base + 16 > have) return more();
  const dataLength = u32le(bytes, base + 12);
  if (dataLength < HOST_PREFIX.length) return invalid('ADB CNXN payload too short for "host:"');
  if (dataLength > ADB_CNXN_MAX_DATA) return invalid('ADB CNXN payload exceeds 4096 bytes');
  for (let k = 0; k < 4; k++) {
    if (base + 20 + k >= have) return more();
    if (bytes[base + 20 + k] !== CNXN_MAGIC_BYTES[k]) return invalid('ADB magic is not command ^ 0xffffffff');
  }
  // bytes 16..19, data_check, are checked once the payload is there.

  const end = headerEnd + dataLength;
  for (let k = 0; k < HOST_PREFIX.length; k++) {
    if (headerEnd + k >= have) return incomplete();
    if (bytes[headerEnd + k] !== HOST_PREFIX[k]) return invalid('ADB CNXN payload does not start with "host:"');
  }
  // The identity (up to 4 KiB) is judged once all of it is in: `needed` then promises facts.ts
  // that nothing changes before, and a client dripping it costs one scan, not one per byte.
  if (have < end) return incomplete(end);
  let sum = 0;
  for (let i = headerEnd; i < end; i++) {
    const b = bytes[i]!;
    if (b === 0x00) {
      if (i !== end - 1) return invalid('NUL inside the ADB system identity');
    } else if (b < 0x20 || b === 0x7f) {
      return invalid('control byte in the ADB system identity');
    }
    sum += b;
  }

  const check = u32le(bytes, base + 16);
  if (check !== 0 && check !== sum >>> 0) return invalid('ADB data_check is neither 0 nor the payload byte sum');
  const idEnd = bytes[end - 1] === 0x00 ? end - 1 : end;
  const systemIdentity = Buffer.from(bytes.buffer, bytes.byteOffset + headerEnd, idEnd - headerEnd).toString('utf8');
  return ok({ version, maxData, systemIdentity }, end);
}
