/**
 * One active health check of one server: connect (tcp) or complete a TLS handshake (tls), after
 * the PROXY header the server expects when `send_proxy` is on (HAProxy's check-send-proxy; v2 is
 * sent as LOCAL, as HAProxy does for checks), then optionally send bytes and expect an answer.
 * Bounded by the check timeout; never throws; reports exactly once.
 */
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { HealthConfig, ProxyV2Options, SendProxy, ServerConfig } from '../config/types.js';
import { connectWithTimeout } from '../net/connect.js';
import { outgoingHeader } from '../proxy/outgoing-header.js';

export type CheckResult = { readonly ok: boolean; readonly detail: string };

const MAX_ANSWER = 16384;

export function runHealthCheck(server: ServerConfig, h: HealthConfig, done: (r: CheckResult) => void): void {
  const started = Date.now();
  let raw: Socket | undefined;
  let stream: Socket | TLSSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const finish = (ok: boolean, detail: string): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    stream?.destroy();
    raw?.destroy();
    done({ ok, detail });
  };
  const timedOut = `timeout after ${h.timeoutMs}ms`;
  // The check timeout bounds the whole check: the connect gets all of it, the rest what is left.
  connectWithTimeout({ host: server.host, port: server.port, timeoutMs: h.timeoutMs }, (r) => {
    if (!r.ok) return finish(false, r.kind === 'error' ? `connect: ${r.error}` : timedOut);
    const socket = r.socket;
    raw = stream = socket;
    timer = setTimeout(() => finish(false, timedOut), Math.max(0, h.timeoutMs - (Date.now() - started)));
    socket.on('error', (e: NodeJS.ErrnoException) => finish(false, `connect: ${e.code ?? e.message}`));
    const header = h.sendProxy ? checkHeader(server.sendProxy, socket) : undefined;
    if (header !== undefined) socket.write(header);
    if (h.type === 'tcp') {
      exchange(socket, h, finish, 'connected');
      return;
    }
    const servername = h.sni ?? (isIP(server.host) === 0 ? server.host : undefined);
    const tls = tlsConnect({
      socket,
      rejectUnauthorized: false,
      ...(servername !== undefined ? { servername } : {}),
      ...(h.alpn.length > 0 ? { ALPNProtocols: [...h.alpn] } : {}),
    });
    stream = tls;
    tls.on('error', (e: NodeJS.ErrnoException) => finish(false, `tls: ${e.code ?? e.message}`));
    tls.once('secureConnect', () => exchange(tls, h, finish, `tls handshake ok (${tls.getProtocol() ?? 'tls'}${tls.alpnProtocol ? `, ${tls.alpnProtocol}` : ''})`));
  });
}

/** A check's v2 header carries no TLVs: it speaks for no client. */
const CHECK_V2: ProxyV2Options = { authority: false, alpn: false, uniqueId: false, crc32c: false, passTlvs: [], datagrams: 'first' };

/**
 * The check's PROXY header, as HAProxy's check-send-proxy sends it: v1 with the check
 * connection's own addresses, v2 as LOCAL (the backend uses its socket's addresses).
 */
function checkHeader(mode: SendProxy, socket: Socket): Buffer | undefined {
  const ep = { srcAddress: socket.localAddress ?? '', srcPort: socket.localPort ?? 0, dstAddress: socket.remoteAddress ?? '', dstPort: socket.remotePort ?? 0 };
  const r = outgoingHeader(mode, ep, { sni: undefined, alpn: undefined, local: mode === 'v2', uniqueId: undefined, inboundTlvs: [] }, CHECK_V2);
  return r.ok ? r.header : undefined;
}

function exchange(stream: Socket | TLSSocket, h: HealthConfig, finish: (ok: boolean, detail: string) => void, connected: string): void {
  if (h.send !== undefined) stream.write(h.send);
  if (h.expect === undefined) {
    finish(true, connected);
    return;
  }
  const expect = h.expect;
  const wanted = expect.kind === 'bytes' ? Buffer.from(expect.bytes) : undefined;
  let answer: Buffer = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    answer = Buffer.concat([answer, chunk]).subarray(0, MAX_ANSWER);
    const hit = wanted !== undefined ? answer.includes(wanted) : expect.kind === 'regex' && expect.regex.test(answer.toString('latin1'));
    if (hit) finish(true, `${connected}, expected answer seen`);
    else if (answer.length >= MAX_ANSWER) finish(false, `expected answer not in the first ${MAX_ANSWER} bytes`);
  });
  stream.on('end', () => finish(false, answer.length === 0 ? 'closed without an answer' : `closed; answer did not match (${answer.length} bytes)`));
}
