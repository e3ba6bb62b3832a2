/**
 * CRC-32C (Castagnoli), as used by the PROXY protocol v2 PP2_TYPE_CRC32C TLV
 * (haproxy proxy-protocol.txt §2.2.3, which points at RFC 4960 Appendix B / RFC 3720 §B.4).
 *
 * Reflected polynomial 0x82F63B78 (normal form 0x1EDC6F41), initial value 0xFFFFFFFF, final
 * XOR 0xFFFFFFFF. Check value: crc32c("123456789") === 0xE3069283.
 */

/** 256-entry table for the byte-at-a-time reflected algorithm, built once at module load. */
const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32C of `bytes`. `init` is a previous result to continue from, so that
 * `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`; it defaults to 0 (a fresh checksum).
 * Returns an unsigned 32-bit integer.
 */
export function crc32c(bytes: Uint8Array, init = 0): number {
  let crc = ~init >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  }
  return ~crc >>> 0;
}
