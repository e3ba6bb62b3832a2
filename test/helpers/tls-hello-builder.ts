/**
 * Builds TLS ClientHello bytes for parser tests (RFC 8446 §4.1.2 body, §5.1 record framing).
 * Deterministic: random, session id and key shares are filled with fixed patterns.
 */
import { Buffer } from 'node:buffer';

export interface ExtensionSpec {
  readonly type: number;
  readonly data: Uint8Array;
}

export interface HelloOptions {
  /** host_name bytes (a string is encoded as latin1); '' makes an empty host_name entry; omitted: no server_name. */
  readonly sni?: string | Uint8Array;
  /** ALPN protocol names; omitted: no ALPN extension. */
  readonly alpn?: readonly (string | Uint8Array)[];
  /** supported_versions values; omitted: no supported_versions extension. */
  readonly versions?: readonly number[];
  /** Adds encrypted_client_hello (0xfe0d) with an outer-ECH-shaped payload. */
  readonly ech?: boolean;
  /** Appended after every other extension, in order. */
  readonly extraExtensions?: readonly ExtensionSpec[];
  /** client_version / legacy_version; default 0x0303. */
  readonly legacyVersion?: number;
  /** legacy_record_version of the record; default 0x0301. */
  readonly recordVersion?: number;
  /** default [0x1301, 0x1302, 0x1303, 0xc02f]. */
  readonly cipherSuites?: readonly number[];
  /** key_share entries (RFC 8446 §4.2.8): group and key_exchange length. Omitted: no key_share. */
  readonly keyShares?: readonly { readonly group: number; readonly length: number }[];
  /** GREASE (RFC 8701) in cipher suites, extensions (first and last), supported_versions, groups, key shares, ALPN. */
  readonly grease?: boolean;
  /** Omit the extensions block entirely (legacy hello). */
  readonly noExtensions?: boolean;
  /** legacy_session_id length, default 32. */
  readonly sessionIdLength?: number;
}

export const EXT = {
  serverName: 0x0000,
  supportedGroups: 0x000a,
  signatureAlgorithms: 0x000d,
  alpn: 0x0010,
  supportedVersions: 0x002b,
  keyShare: 0x0033,
  ech: 0xfe0d,
} as const;

export function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
export function u16(n: number): Buffer {
  return Buffer.from([(n >> 8) & 0xff, n & 0xff]);
}
export function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}
export function pattern(length: number, seed = 0): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (seed + i * 31 + (i >> 8)) & 0xff;
  return b;
}
function bytesOf(s: string | Uint8Array): Buffer {
  return typeof s === 'string' ? Buffer.from(s, 'latin1') : Buffer.from(s);
}

export function ext(type: number, data: Uint8Array): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data]);
}

/** RFC 6066 §3 ServerNameList with a single host_name entry. */
export function serverNameData(name: string | Uint8Array): Buffer {
  const host = bytesOf(name);
  const entry = Buffer.concat([u8(0), u16(host.length), host]);
  return Buffer.concat([u16(entry.length), entry]);
}

/** RFC 7301 §3.1 ProtocolNameList. */
export function alpnData(names: readonly (string | Uint8Array)[]): Buffer {
  const list = Buffer.concat(names.map((n) => {
    const b = bytesOf(n);
    return Buffer.concat([u8(b.length), b]);
  }));
  return Buffer.concat([u16(list.length), list]);
}

/** RFC 8446 §4.2.1 SupportedVersions (ClientHello form). */
export function supportedVersionsData(versions: readonly number[]): Buffer {
  return Buffer.concat([u8(versions.length * 2), ...versions.map(u16)]);
}

/** The handshake message: msg_type 1, uint24 length, ClientHello body (RFC 8446 §4, §4.1.2). */
export function buildHandshake(o: HelloOptions = {}): Buffer {
  const grease = o.grease === true;
  const suites = [...(grease ? [0x2a2a] : []), ...(o.cipherSuites ?? [0x1301, 0x1302, 0x1303, 0xc02f])];
  const sidLen = o.sessionIdLength ?? 32;
  const parts: Buffer[] = [
    u16(o.legacyVersion ?? 0x0303),
    pattern(32, 7),
    u8(sidLen),
    pattern(sidLen, 99),
    u16(suites.length * 2),
    ...suites.map(u16),
    u8(1),
    u8(0),
  ];
  if (o.noExtensions !== true) {
    const exts: Buffer[] = [];
    if (grease) exts.push(ext(0x3a3a, Buffer.alloc(0)));
    if (o.sni !== undefined) exts.push(ext(EXT.serverName, serverNameData(o.sni)));
    const groups = [...(grease ? [0x6a6a] : []), 0x11ec, 0x001d, 0x0017];
    exts.push(ext(EXT.supportedGroups, Buffer.concat([u16(groups.length * 2), ...groups.map(u16)])));
    exts.push(ext(EXT.signatureAlgorithms, Buffer.from('0008040305030403080408050806', 'hex')));
    if (o.alpn !== undefined) exts.push(ext(EXT.alpn, alpnData(grease ? [...o.alpn, Buffer.from([0x7a, 0x7a])] : o.alpn)));
    if (o.keyShares !== undefined) {
      const entries = [...(grease ? [{ group: 0x6a6a, length: 1 }] : []), ...o.keyShares].map((k, i) =>
        Buffer.concat([u16(k.group), u16(k.length), pattern(k.length, i * 13)]),
      );
      const list = Buffer.concat(entries);
      exts.push(ext(EXT.keyShare, Buffer.concat([u16(list.length), list])));
    }
    if (o.versions !== undefined) {
      exts.push(ext(EXT.supportedVersions, supportedVersionsData(grease ? [0x5a5a, ...o.versions] : o.versions)));
    }
    if (o.ech === true) {
      // draft-ietf-tls-esni §5: ECHClientHello outer: type 0, HpkeSymmetricCipherSuite(4), config_id(1),
      // enc<0..2^16-1>, payload<1..2^16-1>.
      const enc = pattern(32, 5);
      const payload = pattern(144, 9);
      exts.push(ext(EXT.ech, Buffer.concat([u8(0), u16(0x0001), u16(0x0001), u8(0x42), u16(enc.length), enc, u16(payload.length), payload])));
    }
    for (const e of o.extraExtensions ?? []) exts.push(ext(e.type, e.data));
    if (grease) exts.push(ext(0x4a4a, Buffer.from([0])));
    const block = Buffer.concat(exts);
    parts.push(u16(block.length), block);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([u8(1), u24(body.length), body]);
}

/** One TLSPlaintext record (RFC 8446 §5.1). */
export function record(contentType: number, version: number, payload: Uint8Array): Buffer {
  return Buffer.concat([u8(contentType), u16(version), u16(payload.length), payload]);
}

/** The ClientHello in a single handshake record. */
export function buildClientHello(o: HelloOptions = {}): Buffer {
  return record(0x16, o.recordVersion ?? 0x0301, buildHandshake(o));
}
