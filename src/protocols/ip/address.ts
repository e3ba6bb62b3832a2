/**
 * IP address text <-> bytes, shared by the PROXY header encoder (proxy-header.ts) and the PROXY
 * decoders (proxy-v1.ts, proxy-v2.ts).
 *
 * Pure and total: parsers return undefined for anything that is not an address (no zone IDs, no
 * brackets), formatters only read the bytes they format and never throw.
 */

/** Dotted-quad IPv4 (RFC 3986 §3.2.2 IPv4address: decimal octets 0-255, no leading zeros) to 4 bytes. */
export function parseIPv4(text: string): Uint8Array | undefined {
  // One pass over the characters, no split: this runs for every connection's PROXY header.
  if (text.length < 7 || text.length > 15) return undefined;
  const out = new Uint8Array(4);
  let k = 0;
  let v = 0;
  let digits = 0;
  let leadingZero = false;
  for (let j = 0; j <= text.length; j++) {
    const c = j === text.length ? 0x2e : text.charCodeAt(j);
    if (c === 0x2e) {
      if (digits === 0 || k > 3) return undefined;
      out[k++] = v;
      v = 0;
      digits = 0;
      continue;
    }
    if (c < 0x30 || c > 0x39) return undefined;
    if (digits === 0) leadingZero = c === 0x30;
    else if (leadingZero) return undefined;
    if (++digits > 3) return undefined;
    v = v * 10 + (c - 0x30);
    if (v > 255) return undefined;
  }
  return k === 4 ? out : undefined;
}

/** Groups of one side of "::" (RFC 4291 §2.2); an embedded dotted IPv4 may end the address. */
function parseGroups(text: string, v4AllowedLast: boolean): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k]!;
    if (k === parts.length - 1 && v4AllowedLast && p.includes('.')) {
      const v4 = parseIPv4(p);
      if (v4 === undefined) return undefined;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      continue;
    }
    if (p.length < 1 || p.length > 4) return undefined;
    let v = 0;
    for (let j = 0; j < p.length; j++) {
      const c = p.charCodeAt(j);
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else return undefined;
      v = (v << 4) | d;
    }
    groups.push(v);
  }
  return groups;
}

/** IPv6 text (RFC 4291 §2.2: full, "::"-compressed, embedded IPv4 tail) to 16 bytes; no zone IDs. */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const dbl = text.indexOf('::');
  let groups: number[];
  if (dbl === -1) {
    const all = parseGroups(text, true);
    if (all === undefined || all.length !== 8) return undefined;
    groups = all;
  } else {
    if (text.indexOf('::', dbl + 1) !== -1) return undefined;
    const head = parseGroups(text.slice(0, dbl), false);
    const tail = parseGroups(text.slice(dbl + 2), true);
    if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  for (let k = 0; k < 8; k++) {
    out[2 * k] = groups[k]! >>> 8;
    out[2 * k + 1] = groups[k]! & 0xff;
  }
  return out;
}

/** Whether the 16 bytes at `off` are an IPv4-mapped IPv6 address, ::ffff:0:0/96 (RFC 4291 §2.5.5.2). */
export function isV4Mapped(b: Uint8Array, off = 0): boolean {
  for (let k = 0; k < 10; k++) if (b[off + k] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

/** Dotted-quad text of the 4 bytes at `off`. */
export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]!}.${b[off + 1]!}.${b[off + 2]!}.${b[off + 3]!}`;
}

/**
 * RFC 5952 §4 text for the 16 bytes at `off`: lowercase hex, no leading zeros, the longest run of
 * two or more zero groups (the first on a tie, §4.2.3) written "::"; IPv4-mapped as
 * "::ffff:a.b.c.d" (§5).
 */
export function formatIPv6(b: Uint8Array, off = 0): string {
  if (isV4Mapped(b, off)) return `::ffff:${formatIPv4(b, off + 12)}`;
  const groups: number[] = [];
  for (let k = 0; k < 8; k++) groups.push((b[off + 2 * k]! << 8) | b[off + 2 * k + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && groups[e] === 0) e++;
    if (e - k > bestLen) {
      bestStart = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = (g: number): string => g.toString(16);
  if (bestStart === -1) return groups.map(hex).join(':');
  return `${groups.slice(0, bestStart).map(hex).join(':')}::${groups.slice(bestStart + bestLen).map(hex).join(':')}`;
}

/** "::ffff:1.2.3.4" (how a dual-stack socket reports an IPv4 peer) as "1.2.3.4"; anything else unchanged. */
export function unmapIPv4(address: string): string {
  const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(address);
  return m ? m[1]! : address;
}
