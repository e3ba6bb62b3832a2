/**
 * One active health check of one server: connect (tcp) or complete a TLS handshake (tls), after
 * the PROXY header the server expects when `send_proxy` is on (HAProxy's check-send-proxy; v2 is
 * sent as LOCAL, as HAProxy does for checks), then optionally send bytes and expect an answer.
 * Bounded by the check timeout; never throws; reports exactly once.
 */
import { connect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { HealthConfig, SendProxy, ServerConfig } from '../config/types.js';
import { encodeProxyV1, encodeProxyV2, proxyAddresses } from '../protocols/proxy/header.js';

export type CheckResult = { readonly ok: boolean; readonly detail: string };

const MAX_ANSWER = 16384;

export function runHealthCheck(server: ServerConfig, h: HealthConfig, done: (r: CheckResult) => void): void {
  const raw = connect({ host: server.host, port: server.port });
  let stream: Socket | TLSSocket = raw;
  let settled = false;
  const finish = (ok: boolean, detail: string): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    stream.destroy();
    raw.destroy();
    done({ ok, detail });
  };
  const timer = setTimeout(() => finish(false, `timeout after ${h.timeoutMs}ms`), h.timeoutMs);
  raw.on('error', (e: NodeJS.ErrnoException) => finish(false, `connect: ${e.code ?? e.message}`));
  raw.once('connect', () => {
    const header = h.sendProxy ? checkHeader(server.sendProxy, raw) : undefined;
    if (header !== undefined) raw.write(header);
    if (h.type === 'tcp') {
      exchange(raw, h, finish, 'connected');
      return;
    }
    const servername = h.sni ?? (isIP(server.host) === 0 ? server.host : undefined);
    const tls = tlsConnect({
      socket: raw,
      rejectUnauthorized: false,
      ...(servername !== undefined ? { servername } : {}),
      ...(h.alpn.length > 0 ? { ALPNProtocols: [...h.alpn] } : {}),
    });
    stream = tls;
    tls.on('error', (e: NodeJS.ErrnoException) => finish(false, `tls: ${e.code ?? e.message}`));
    tls.once('secureConnect', () => exchange(tls, h, finish, `tls handshake ok (${tls.getProtocol() ?? 'tls'}${tls.alpnProtocol ? `, ${tls.alpnProtocol}` : ''})`));
  });
}

/** The check's PROXY header: the check connection's own addresses for v1, LOCAL for v2. */
function checkHeader(mode: SendProxy, socket: Socket): Buffer | undefined {
  if (mode === 'off') return undefined;
  const addrs = proxyAddresses(
    { address: socket.localAddress ?? '', port: socket.localPort ?? 0 },
    { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
  );
  if (mode === 'v1') return encodeProxyV1(addrs);
  const r = encodeProxyV2(addrs, [], { local: true });
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
