/**
 * A first message per TCP parser of the protocol table (src/inspect/protocol-table.ts PARSERS):
 * real recordings from test/fixtures, the property corpora, and long messages built to the limit
 * each parser allows (a 4 KB HTTP head with one long field, a TLS hello cut into 1-byte records, a
 * 4 KB XMPP header with a long value, a 2 KB tinc name...). Every entry parses ok with the default
 * inspect cap (the tests that use them check it). `firstMessagesFor` fails on a parser without
 * messages, so a parser added to the table must bring some.
 */
import { readFileSync } from 'node:fs';
import type { ParserKey } from '../../src/protocols/table.js';
import { HTTP_CORPUS, SSH_CORPUS, TLS_CORPUS, reframe } from '../property/corpora.js';
import { buildHandshake } from './tls-hello-builder.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url));
const text = (s: string): Buffer => Buffer.from(s, 'latin1');

/** An HTTP/1.1 head of about `size` bytes: many field lines, one of them long. */
export function longHttpHead(size: number): Buffer {
  let s = `GET /${'p'.repeat(200)} HTTP/1.1\r\nHost: Example.COM:8443\r\nCookie: ${'c'.repeat(Math.floor(size / 4))}\r\n`;
  for (let k = 0; s.length < size - 40; k++) s += `X-Pad-${k}: ${'v'.repeat(50)}\r\n`;
  return text(`${s}\r\n`);
}

const STREAMS = "xmlns:stream='http://etherx.jabber.org/streams'";

export const FIRST_MESSAGES: { readonly [K in ParserKey]?: readonly Buffer[] } = {
  tls: [...TLS_CORPUS, reframe(buildHandshake({ sni: 'small.records.example', alpn: ['h2'], keyShares: [{ group: 0x11ec, length: 1216 }] }), [1])],
  http: [...HTTP_CORPUS, longHttpHead(4000), text(`CONNECT ${'a'.repeat(3000)}.example:443 HTTP/1.1\r\n\r\n`)],
  ssh: [...SSH_CORPUS, text(`SSH-2.0-${'s'.repeat(100)} ${'c'.repeat(130)}\r\n`)],
  socks: [fixture('socks4-curl-connect.bin'), fixture('socks4a-curl-connect.bin'), fixture('socks5-curl-greeting.bin'), Buffer.concat([Buffer.from([4, 1, 0, 80, 0, 0, 0, 1]), text(`${'u'.repeat(255)}\0${'h'.repeat(255)}\0`)])],
  openvpn: [fixture('openvpn-tcp-reset-v2.bin'), fixture('openvpn-tcp-tls-crypt-v2-reset-v3.bin')],
  xmpp: [
    fixture('xmpp-slixmpp-stream-header.bin'),
    fixture('xmpp-go-sendxmpp-stream-header.bin'),
    text(`<?xml version='1.0' encoding='UTF-8'?>\n<stream:stream to='example.com' xmlns='jabber:client' ${STREAMS} from='${'f'.repeat(3000)}&amp;&#64;\r\n' version='1.0'>`),
    text(`<stream:stream ${'x'.repeat(1500)}='1' to='example.com' ${STREAMS} xmlns='jabber:client'${' '.repeat(1000)}>`),
  ],
  rdp: [fixture('rdp-xfreerdp-connection-request.bin'), fixture('rdp-xfreerdp-routing-token.bin')],
  postgres: [fixture('postgres-psql15-sslrequest.bin'), fixture('postgres-psql15-startup.bin')],
  mqtt: [fixture('mqtt-mosquitto-pub-v311.bin'), fixture('mqtt-mosquitto-pub-v5.bin'), fixture('mqtt-mosquitto-pub-v31.bin')],
  adb: [fixture('adb-connect.bin')],
  http2: [fixture('h2-curl-prior-knowledge.bin')],
  tinc: [fixture('tinc-1.0.36-id.bin'), text(`0 ${'n'.repeat(2048)} 17.7\n`), text(`0 ?${'k'.repeat(1000)} 17.1\n`)],
  syslog: [fixture('syslog-logger-rfc3164-lf.bin'), fixture('syslog-logger-rfc5424-lf.bin'), fixture('syslog-logger-rfc5424-octet-counting.bin'), text(`<34>1 2025-01-01T00:00:00Z host app - - - ${'m'.repeat(8000)}\n`)],
};

export function firstMessagesFor(key: ParserKey): readonly Buffer[] {
  const m = FIRST_MESSAGES[key];
  if (m === undefined || m.length === 0) throw new Error(`test/helpers/first-messages.ts has no first message for the "${key}" parser`);
  return m;
}
