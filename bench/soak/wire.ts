/**
 * Wire helpers for the soak, written independently of src/ so that the soak does not check
 * portplex's PROXY encoder with portplex's own decoder: a seeded PRNG, CRC32C, a small PROXY
 * v1/v2 header reader for the echo backends, a v1/v2 header writer for inbound headers, and IP
 * address canonicalization.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** xorshift128+ style 32-bit generator (sfc32), seeded by splitmix32: fast, reproducible. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    let s = seed >>> 0;
    const mix = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
  }
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }
  float(): number {
    return this.u32() / 4294967296;
  }
  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) b.writeUInt32LE(this.u32(), i);
    for (; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
  /** Splits `buf` into chunks of 1..maxChunk bytes (views, no copies). */
  split(buf: Buffer, maxChunk: number): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < buf.length; ) {
      const n = Math.min(buf.length - i, this.int(1, Math.max(1, maxChunk)));
      out.push(buf.subarray(i, i + n));
      i += n;
    }
    return out;
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32C (Castagnoli), as PROXY v2's PP2_TYPE_CRC32C uses it. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** An address in one spelling per family: dotted quad for IPv4, 8 full lowercase hex groups for IPv6. */
export function canonicalIp(address: string): string {
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return `invalid(${address})`;
  return ipv6Bytes(address)
    .reduce<string[]>((acc, _b, i, all) => (i % 2 === 0 ? [...acc, ((all[i]! << 8) | all[i + 1]!).toString(16)] : acc), [])
    .join(':');
}

function ipv6Bytes(address: string): number[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const groups = (s: string | undefined): number[] => (s === undefined || s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((g) => [(g >> 8) & 0xff, g & 0xff]);
}

function ipFromBytes(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(':');
}

const V2_SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');

export interface ReceivedHeader {
  readonly version: 1 | 2;
  /** 'local': a v2 LOCAL header or a v1 `PROXY UNKNOWN` line: no addresses. */
  readonly family: 'TCP4' | 'TCP6' | 'local';
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
  readonly authority: string | undefined;
  readonly alpn: string | undefined;
  readonly uniqueIdLength: number | undefined;
  /** undefined: no CRC32C TLV; true/false: it was there and matched or not. */
  readonly crcOk: boolean | undefined;
  readonly length: number;
}

export type HeaderRead = { kind: 'incomplete' } | { kind: 'invalid'; reason: string } | { kind: 'ok'; header: ReceivedHeader };

/** Reads one PROXY v1 or v2 header from the start of `b` (independent of src/protocols). */
export function readProxyHeader(b: Buffer): HeaderRead {
  const n = Math.min(b.length, 12);
  if (b.subarray(0, n).equals(V2_SIG.subarray(0, n)) && n > 0 && b[0] === 0x0d) return readV2(b);
  const m = Math.min(b.length, 6);
  if (b.subarray(0, m).equals(V1_PREFIX.subarray(0, m))) return readV1(b);
  return b.length === 0 ? { kind: 'incomplete' } : { kind: 'invalid', reason: `starts with 0x${b.subarray(0, 8).toString('hex')}` };
}

function readV1(b: Buffer): HeaderRead {
  const end = b.indexOf('\r\n', 0, 'latin1');
  if (end < 0) return b.length >= 107 ? { kind: 'invalid', reason: 'v1 line longer than 107 bytes' } : { kind: 'incomplete' };
  if (end + 2 > 107) return { kind: 'invalid', reason: 'v1 line longer than 107 bytes' };
  const parts = b.subarray(0, end).toString('latin1').split(' ');
  if (parts.length === 2 && parts[1] === 'UNKNOWN') {
    return { kind: 'ok', header: { version: 1, family: 'local', src: '', srcPort: 0, dst: '', dstPort: 0, authority: undefined, alpn: undefined, uniqueIdLength: undefined, crcOk: undefined, length: end + 2 } };
  }
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) return { kind: 'invalid', reason: `v1 line ${JSON.stringify(b.subarray(0, end).toString('latin1'))}` };
  const [, fam, src, dst, sp, dp] = parts as [string, 'TCP4' | 'TCP6', string, string, string, string];
  if ((fam === 'TCP4' && (!isIPv4(src) || !isIPv4(dst))) || (fam === 'TCP6' && (!isIPv6(src) || !isIPv6(dst)))) return { kind: 'invalid', reason: `v1 addresses ${src} ${dst} for ${fam}` };
  if (!/^\d{1,5}$/.test(sp) || !/^\d{1,5}$/.test(dp)) return { kind: 'invalid', reason: `v1 ports ${sp} ${dp}` };
  return {
    kind: 'ok',
    header: { version: 1, family: fam, src: canonicalIp(src), srcPort: Number(sp), dst: canonicalIp(dst), dstPort: Number(dp), authority: undefined, alpn: undefined, uniqueIdLength: undefined, crcOk: undefined, length: end + 2 },
  };
}

function readV2(b: Buffer): HeaderRead {
  if (b.length < 16) return { kind: 'incomplete' };
  const local = b[12] === 0x20;
  if (b[12] !== 0x21 && !local) return { kind: 'invalid', reason: `v2 ver_cmd 0x${b[12]!.toString(16)} (expected PROXY 0x21 or LOCAL 0x20)` };
  const fam = b[13]!;
  const len = b.readUInt16BE(14);
  if (b.length < 16 + len) return { kind: 'incomplete' };
  const h = b.subarray(0, 16 + len);
  let off = 16;
  let family: ReceivedHeader['family'];
  let src: string, dst: string, srcPort: number, dstPort: number;
  if (local && fam === 0x00) {
    // What portplex writes for LOCAL: no address block, TLVs right after the fixed part.
    family = 'local';
    src = dst = '';
    srcPort = dstPort = 0;
  } else if (local) {
    return { kind: 'invalid', reason: `v2 LOCAL with family 0x${fam.toString(16)}` };
  } else if (fam === 0x11 && len >= 12) {
    family = 'TCP4';
    src = ipFromBytes(h.subarray(16, 20));
    dst = ipFromBytes(h.subarray(20, 24));
    srcPort = h.readUInt16BE(24);
    dstPort = h.readUInt16BE(26);
    off = 28;
  } else if (fam === 0x21 && len >= 36) {
    family = 'TCP6';
    src = ipFromBytes(h.subarray(16, 32));
    dst = ipFromBytes(h.subarray(32, 48));
    srcPort = h.readUInt16BE(48);
    dstPort = h.readUInt16BE(50);
    off = 52;
  } else {
    return { kind: 'invalid', reason: `v2 family 0x${fam.toString(16)} with len ${len}` };
  }
  let authority: string | undefined;
  let alpn: string | undefined;
  let uniqueIdLength: number | undefined;
  let crcOk: boolean | undefined;
  while (off < h.length) {
    if (off + 3 > h.length) return { kind: 'invalid', reason: 'v2 truncated TLV header' };
    const type = h[off]!;
    const tl = h.readUInt16BE(off + 1);
    const v = h.subarray(off + 3, off + 3 + tl);
    if (off + 3 + tl > h.length) return { kind: 'invalid', reason: `v2 TLV 0x${type.toString(16)} runs past len` };
    if (type === 0x01) alpn = v.toString('latin1');
    else if (type === 0x02) authority = v.toString('utf8');
    else if (type === 0x05) uniqueIdLength = v.length;
    else if (type === 0x03) {
      if (v.length !== 4) return { kind: 'invalid', reason: 'v2 CRC32C TLV not 4 bytes' };
      const copy = Buffer.from(h);
      copy.fill(0, off + 3, off + 7);
      crcOk = crc32c(copy) === v.readUInt32BE(0);
    }
    off += 3 + tl;
  }
  return { kind: 'ok', header: { version: 2, family, src: local ? '' : canonicalIp(src), srcPort, dst: local ? '' : canonicalIp(dst), dstPort, authority, alpn, uniqueIdLength, crcOk, length: 16 + len } };
}

/** A v2 LOCAL header, as a load balancer's health check sends it (command LOCAL, family UNSPEC, no addresses). */
export function writeLocalHeader(): Buffer {
  return Buffer.concat([V2_SIG, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
}

/** An inbound header a load balancer would send (v1, or v2 with an optional CRC32C TLV). */
export function writeProxyHeader(version: 1 | 2, src: string, srcPort: number, dst: string, dstPort: number, withCrc = false): Buffer {
  const v6 = isIPv6(src);
  if (version === 1) return Buffer.from(`PROXY ${v6 ? 'TCP6' : 'TCP4'} ${src} ${dst} ${srcPort} ${dstPort}\r\n`, 'latin1');
  const addr = v6
    ? Buffer.concat([Buffer.from(ipv6Bytes(src)), Buffer.from(ipv6Bytes(dst)), u16(srcPort), u16(dstPort)])
    : Buffer.concat([Buffer.from(src.split('.').map(Number)), Buffer.from(dst.split('.').map(Number)), u16(srcPort), u16(dstPort)]);
  const tlv = withCrc ? Buffer.from([0x03, 0x00, 0x04, 0, 0, 0, 0]) : Buffer.alloc(0);
  const h = Buffer.concat([V2_SIG, Buffer.from([0x21, v6 ? 0x21 : 0x11]), u16(addr.length + tlv.length), addr, tlv]);
  if (withCrc) h.writeUInt32BE(crc32c(h), h.length - 4);
  return h;
}

function u16(n: number): Buffer {
  return Buffer.from([(n >> 8) & 0xff, n & 0xff]);
}

export { V2_SIG };
