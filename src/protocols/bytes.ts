/**
 * The byte reads every parser shares. Each is bound-checked: a read past the end answers -1 (a
 * number no field can hold) and a text range is clipped to the bytes there, so a parser that
 * forgot a length check answers invalid instead of throwing or reading a neighbour's memory.
 */

/**
 * Bytes [start, end) as latin1 (one code point per byte). Short strings (ALPN names, most host
 * names) are built directly; longer ones go through a Buffer view of the same memory (no copy).
 */
export function latin1(b: Uint8Array, start = 0, end = b.length): string {
  const s = Math.max(0, start);
  const e = Math.min(end, b.length);
  if (e <= s) return '';
  if (e - s <= 32) {
    let out = '';
    for (let p = s; p < e; p++) out += String.fromCharCode(b[p]!);
    return out;
  }
  return Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1');
}

/** Carriage return and line feed: every line-based first message ends its lines with them (each parser says which ending it takes). */
export const CR = 0x0d;
export const LF = 0x0a;

/** An ASCII digit 0-9. */
export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A big-endian (network order) uint16 at p, or -1 past the end. */
export function u16(b: Uint8Array, p: number): number {
  return p >= 0 && p + 2 <= b.length ? (b[p]! << 8) | b[p + 1]! : -1;
}

/** A big-endian uint32 at p, or -1 past the end. */
export function u32(b: Uint8Array, p: number): number {
  return p >= 0 && p + 4 <= b.length ? ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0 : -1;
}
