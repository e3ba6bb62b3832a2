/**
 * QUIC Initial packet protection, client direction only: key derivation (RFC 9001 §5.2, RFC 9369
 * §3.3), header protection removal (RFC 9001 §5.4) and AEAD_AES_128_GCM decryption (§5.3).
 *
 * Initial keys are not secret: they derive from the client's Destination Connection ID, which is
 * on the wire, and a per-version public salt. That is what lets a router read the ClientHello
 * without being a QUIC endpoint. Only node:crypto is used; nothing here throws on input (the one
 * throwing call, GCM's final() on an authentication failure, is caught and becomes `undefined`).
 */
import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

export const QUIC_VERSION_1 = 0x00000001; // RFC 9000 §15
export const QUIC_VERSION_2 = 0x6b3343cf; // RFC 9369 §3.1

interface VersionParams {
  readonly salt: Buffer;
  readonly keyLabel: string;
  readonly ivLabel: string;
  readonly hpLabel: string;
}

const V1: VersionParams = {
  salt: Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex'), // RFC 9001 §5.2 initial_salt
  keyLabel: 'quic key', // RFC 9001 §5.1
  ivLabel: 'quic iv',
  hpLabel: 'quic hp',
};

const V2: VersionParams = {
  salt: Buffer.from('0dede3def700a6db819381be6e269dcbf9bd2ed9', 'hex'), // RFC 9369 §3.3.1
  keyLabel: 'quicv2 key', // RFC 9369 §3.3.2
  ivLabel: 'quicv2 iv',
  hpLabel: 'quicv2 hp',
};

function paramsFor(version: number): VersionParams | undefined {
  return version === QUIC_VERSION_1 ? V1 : version === QUIC_VERSION_2 ? V2 : undefined;
}

/** The QUIC versions whose Initial packets this module can decrypt. */
export function isSupportedQuicVersion(version: number): boolean {
  return paramsFor(version) !== undefined;
}

/** RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM). SHA-256 for every Initial (RFC 9001 §5.2). */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac('sha256', salt).update(ikm).digest();
}

/**
 * RFC 8446 §7.1 HKDF-Expand-Label(Secret, Label, Context, Length) = HKDF-Expand(Secret, HkdfLabel,
 * Length) with HkdfLabel = uint16 length || opaque label<7..255> ("tls13 " + Label) || opaque
 * context<0..255>. Written over createHmac because crypto.hkdfSync always runs Extract first and
 * QUIC expands an already extracted secret. RFC 5869 §2.3: T(i) = HMAC(PRK, T(i-1) || info || i).
 */
export function hkdfExpandLabel(secret: Uint8Array, label: string, context: Uint8Array, length: number): Buffer {
  const full = Buffer.from('tls13 ' + label, 'latin1');
  const info = Buffer.alloc(2 + 1 + full.length + 1 + context.length);
  info.writeUInt16BE(length, 0);
  info[2] = full.length;
  full.copy(info, 3);
  info[3 + full.length] = context.length;
  info.set(context, 4 + full.length);
  const out = Buffer.alloc(length);
  let prev: Buffer = Buffer.alloc(0);
  for (let filled = 0, i = 1; filled < length; i++) {
    prev = createHmac('sha256', secret).update(prev).update(info).update(Buffer.from([i])).digest();
    prev.copy(out, filled, 0, Math.min(prev.length, length - filled));
    filled += prev.length;
  }
  return out;
}

/** AEAD_AES_128_GCM key and IV, AES-128 header protection key (RFC 9001 §5.1, §5.3, §5.4.3). */
export interface QuicPacketKeys {
  readonly key: Buffer; // 16 bytes
  readonly iv: Buffer; // 12 bytes
  readonly hp: Buffer; // 16 bytes
}

export interface QuicClientInitialSecrets extends QuicPacketKeys {
  readonly initialSecret: Buffer; // HKDF-Extract(initial_salt, DCID)
  readonly clientSecret: Buffer; // HKDF-Expand-Label(initial_secret, "client in", "", 32)
}

/**
 * The client Initial secrets and keys for a version and the client's original Destination
 * Connection ID (RFC 9001 §5.2; RFC 9369 §3.3 for v2's salt and labels; the "client in" label is
 * the same in both). undefined for a version without Initial keys here. Fresh buffers every call.
 */
export function deriveQuicClientInitialSecrets(version: number, dcid: Uint8Array): QuicClientInitialSecrets | undefined {
  const p = paramsFor(version);
  if (p === undefined) return undefined;
  const initialSecret = hkdfExtract(p.salt, dcid);
  const clientSecret = hkdfExpandLabel(initialSecret, 'client in', EMPTY, 32);
  return {
    initialSecret,
    clientSecret,
    key: hkdfExpandLabel(clientSecret, p.keyLabel, EMPTY, 16),
    iv: hkdfExpandLabel(clientSecret, p.ivLabel, EMPTY, 12),
    hp: hkdfExpandLabel(clientSecret, p.hpLabel, EMPTY, 16),
  };
}

const EMPTY = new Uint8Array(0);

/**
 * Derivation costs five HMACs; the UDP side re-parses a flow on every datagram, so keys are kept
 * per (version, DCID) in a small map. Entries are never handed out (callers of this module get
 * fresh buffers from deriveQuicClientInitialSecrets), so nothing can change a cached key, and the
 * answer is the same with or without the cache.
 */
const KEY_CACHE_SIZE = 256;
const keyCache = new Map<string, QuicPacketKeys>();

/** Internal: cached client Initial keys (do not modify the buffers). */
export function clientInitialKeys(version: number, dcid: Uint8Array): QuicPacketKeys | undefined {
  const id = version.toString(16) + ':' + Buffer.from(dcid.buffer, dcid.byteOffset, dcid.length).toString('hex');
  const hit = keyCache.get(id);
  if (hit !== undefined) return hit;
  const s = deriveQuicClientInitialSecrets(version, dcid);
  if (s === undefined) return undefined;
  const keys: QuicPacketKeys = { key: s.key, iv: s.iv, hp: s.hp };
  if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(id, keys);
  return keys;
}

/** RFC 9001 §5.4.3: mask = AES-ECB(hp_key, sample), sample being 16 bytes. */
export function headerProtectionMask(hp: Uint8Array, sample: Uint8Array): Buffer {
  const c = createCipheriv('aes-128-ecb', hp, null);
  c.setAutoPadding(false);
  return c.update(sample);
}

/**
 * RFC 9001 §5.3: nonce = iv XOR the packet number as a 62-bit big-endian integer left-padded to the
 * IV's 12 bytes. `pn` < 2^53 (Initial packet numbers are small; see decodePacketNumber).
 */
export function packetNonce(iv: Uint8Array, pn: number): Buffer {
  const nonce = Buffer.from(iv);
  const hi = Math.floor(pn / 0x100000000);
  const lo = pn >>> 0;
  nonce[4] = nonce[4]! ^ ((hi >>> 24) & 0xff);
  nonce[5] = nonce[5]! ^ ((hi >>> 16) & 0xff);
  nonce[6] = nonce[6]! ^ ((hi >>> 8) & 0xff);
  nonce[7] = nonce[7]! ^ (hi & 0xff);
  nonce[8] = nonce[8]! ^ (lo >>> 24);
  nonce[9] = nonce[9]! ^ ((lo >>> 16) & 0xff);
  nonce[10] = nonce[10]! ^ ((lo >>> 8) & 0xff);
  nonce[11] = nonce[11]! ^ (lo & 0xff);
  return nonce;
}

/**
 * RFC 9000 Appendix A.3: the full packet number closest to largest + 1 whose low `pnLength` bytes
 * are `truncated`. `largest` is -1 before any packet was decrypted.
 */
export function decodePacketNumber(largest: number, truncated: number, pnLength: number): number {
  const expected = largest + 1;
  const win = 2 ** (8 * pnLength);
  const hwin = win / 2;
  const candidate = Math.floor(expected / win) * win + truncated;
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}

/**
 * AEAD_AES_128_GCM open (RFC 9001 §5.3): AAD = the unprotected header through the packet number,
 * the last 16 bytes of the protected payload are the tag. undefined when authentication fails.
 */
export function aeadOpen(keys: QuicPacketKeys, pn: number, aad: Uint8Array, sealed: Uint8Array): Buffer | undefined {
  const TAG = 16;
  if (sealed.length < TAG) return undefined;
  try {
    const d = createDecipheriv('aes-128-gcm', keys.key, packetNonce(keys.iv, pn), { authTagLength: TAG });
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - TAG));
    const head = d.update(sealed.subarray(0, sealed.length - TAG));
    const tail = d.final(); // throws when the tag does not match
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    return undefined;
  }
}
