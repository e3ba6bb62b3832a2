/**
 * Seed corpora for the property suites (not a test file itself): real recordings
 * (test/fixtures/*.bin) and inputs built the way real peers send them. Every entry must parse ok
 * with default options (each suite checks that, so a stale corpus is noticed).
 */
import { encodeProxyV2, proxyAddresses, standardTlvs } from '../../src/protocols/proxy/header.js';
import { buildClientHello, buildHandshake, pattern, record, u16, u8 } from '../helpers/tls-hello-builder.js';
import { fixture, latin1 } from './support.js';

// ---------------------------------------------------------------------------------------------
// TLS ClientHello

export const chromium = fixture('chromium-156-pq-clienthello.bin');
export const node20 = fixture('node20-clienthello.bin');
/** RFC 5246 appendix E.2 SSLv2-compatible ClientHello. */
export function sslv2(version: number, specs: number, sid: number, challenge: number): Buffer {
  const body = Buffer.concat([u8(1), u16(version), u16(specs * 3), u16(sid), u16(challenge), pattern(specs * 3, 1), pattern(sid, 2), pattern(challenge, 3)]);
  return Buffer.concat([u16(0x8000 | body.length), body]);
}

/** The handshake message of `hello` (a single-record hello) re-framed into records of `sizes`. */
export function reframe(handshake: Uint8Array, sizes: readonly number[], versions: readonly number[] = [0x0301]): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (let p = 0; p < handshake.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, handshake.length - p);
    out.push(record(0x16, versions[i % versions.length]!, handshake.subarray(p, p + n)));
    p += n;
  }
  return Buffer.concat(out);
}

export const GREASE_ALL = { sni: 'grease.example', alpn: ['h2', 'http/1.1'], versions: [0x0304, 0x0303], grease: true, ech: true, keyShares: [{ group: 0x11ec, length: 1216 }, { group: 0x001d, length: 32 }] };

export const TLS_CORPUS: readonly Buffer[] = [
  chromium,
  node20,
  buildClientHello({ sni: 'example.com', alpn: ['h2', 'http/1.1'], versions: [0x0304, 0x0303], keyShares: [{ group: 0x001d, length: 32 }] }),
  buildClientHello(GREASE_ALL),
  buildClientHello({ sni: 'Upper.Example.COM.', ech: true, versions: [0x0304] }),
  buildClientHello({ legacyVersion: 0x0301, recordVersion: 0x0300, noExtensions: true, sessionIdLength: 0 }),
  buildClientHello({ sni: '', alpn: ['x'] }),
  reframe(node20.subarray(5), [100]),
  reframe(buildHandshake(GREASE_ALL), [7, 300, 1]),
  reframe(buildHandshake({ sni: 'a.test', alpn: ['h2'] }), [3]),
  Buffer.concat([buildClientHello({ sni: 'a.example' }), Buffer.from('140303000101', 'hex')]),
  sslv2(0x0301, 3, 0, 16),
  sslv2(0x0002, 1, 16, 32),
];

// ---------------------------------------------------------------------------------------------
// HTTP/1 request heads

export const HTTP_CORPUS: readonly Buffer[] = [
  latin1('GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n'),
  latin1(
    'GET /search?q=portplex&hl=en HTTP/1.1\r\nHost: www.Example.com:8080\r\nConnection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\n' +
      'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n' +
      'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n',
  ),
  latin1('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\nUser-Agent: curl/8.5.0\r\n\r\n'),
  latin1('CONNECT [2001:db8::5]:22 HTTP/1.1\r\n\r\n'),
  latin1('GET http://example.com/x HTTP/1.1\r\nHost: ex%41mple.com\r\nProxy-Connection: Keep-Alive\r\n\r\n'),
  latin1('POST /submit HTTP/1.1\r\nHost: 192.0.2.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2'),
  latin1('GET / HTTP/1.0\r\n\r\n'),
  latin1('HEAD / HTTP/1.1\nHost: [2001:DB8::1]:8443\n\n'),
  latin1('GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'),
  Buffer.concat([latin1('GET /caf'), Buffer.from('c3a9', 'hex'), latin1(' HTTP/1.1\r\nHost: a\r\nX-Obs: \xe9t\xe9\t!\r\n\r\n')]),
  latin1('OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n'),
];

// ---------------------------------------------------------------------------------------------
// SSH identification strings

/** A KEXINIT-looking binary packet (what follows the banner on the wire). */
export const KEXINIT = Buffer.from('000005dc071400112233445566778899aabbccddeeff0000011a637572766532353531392d736861323536', 'hex');

export const SSH_CORPUS: readonly Buffer[] = [
  latin1('SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n'),
  latin1('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'),
  latin1('SSH-2.0-PuTTY_Release_0.80\r\n'),
  latin1('SSH-2.0-JSCH-0.1.54\r\n'),
  latin1('SSH-2.0-libssh_0.10.6\n'),
  latin1('SSH-1.99-Cisco-1.25\r\n'),
  latin1('SSH-2.0-Go\r\n'),
  latin1('SSH-2.0-x \r\n'),
  Buffer.concat([latin1('SSH-2.0-paramiko_3.4.0\r\n'), KEXINIT]),
];

// ---------------------------------------------------------------------------------------------
// PROXY v1 lines

export const V1_CORPUS: readonly Buffer[] = [
  latin1('PROXY TCP4 192.0.2.10 198.51.100.7 56324 443\r\n'),
  latin1('PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n'),
  latin1('PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n'),
  latin1('PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n'),
  latin1('PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n'),
  latin1('PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n'),
  latin1('PROXY TCP6 0000:0000:0000:0000:0000:ffff:255.255.255.255 FE80:0:0:0:0:0:0:1 80 8080\r\n'),
  latin1('PROXY UNKNOWN\r\n'),
  latin1('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n'),
  latin1('PROXY TCP4 192.0.2.10 198.51.100.7 56324 443\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n'),
];

// ---------------------------------------------------------------------------------------------
// PROXY v2 headers

export const V2_SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

export function encoded(r: ReturnType<typeof encodeProxyV2>): Buffer {
  if (!r.ok) throw new Error(r.message);
  return r.header;
}

/** AWS NLB health check (kubernetes/kubernetes#57250): LOCAL, fam 0x11, CRC32C + NOOP TLVs, no addresses. */
export const AWS_NLB = Buffer.from(`0d0a0d0a000d0a515549540a20110054030004bce5951f04004a${'00'.repeat(74)}`, 'hex');

function unixBlock(src: string, dst: string): Buffer {
  const a = Buffer.alloc(108);
  a.write(src, 'latin1');
  const b = Buffer.alloc(108);
  b.write(dst, 'latin1');
  return Buffer.concat([a, b]);
}

function header(verCmd: number, fam: number, body: Uint8Array): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([V2_SIG, Buffer.from([verCmd, fam]), len, body]);
}

const tcp4 = proxyAddresses({ address: '192.0.2.10', port: 56324 }, { address: '198.51.100.7', port: 443 });
const tcp6 = proxyAddresses({ address: '2001:db8::1', port: 56324 }, { address: '::ffff:192.0.2.1', port: 443 });

export const V2_CORPUS: readonly Buffer[] = [
  encoded(encodeProxyV2(tcp4)),
  encoded(encodeProxyV2(tcp4, standardTlvs('example.com', 'h2'), { crc32c: true })),
  encoded(encodeProxyV2(tcp6, [...standardTlvs('b\u00fccher.example', 'http/1.1'), { type: 0x05, value: Buffer.alloc(16, 7) }, { type: 0xea, value: latin1('\x01vpce-08d2bf15fac5001c5') }])),
  encoded(encodeProxyV2(tcp4, [{ type: 0x04, value: Buffer.alloc(3) }], { local: true })),
  encoded(encodeProxyV2(proxyAddresses({ address: 'bogus', port: 1 }, { address: '::1', port: 2 }), standardTlvs('x.example', undefined))),
  AWS_NLB,
  header(0x21, 0x31, unixBlock('/run/app.sock', '\0abstract')),
  header(0x21, 0x12, Buffer.from('c000020ac6336407dc0401bb', 'hex')),
  header(0x20, 0x21, Buffer.concat([Buffer.alloc(36, 1), Buffer.from('040000', 'hex')])),
  Buffer.concat([encoded(encodeProxyV2(tcp4)), latin1('GET / HTTP/1.1\r\nHost: a\r\n\r\n')]),
];
