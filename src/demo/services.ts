/**
 * Built-in demo backends, so that `npm start` shows routing on a machine with nothing else
 * installed. Each reads the PROXY header portplex sends (v1 or v2, or none) and tells the client
 * which backend it reached and which client address the header carried. Never for production.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { TLSSocket, createSecureContext, type SecureContext } from 'node:tls';
import type { DemoServiceConfig } from '../config/types.js';
import { PortplexError } from '../errors.js';
import { parseProxyHeader, proxySignature, type InboundProxyHeader } from '../protocols/proxy/decode.js';

export const DEMO_CERT_DIR = fileURLToPath(new URL('../../../rules/demo-cert/', import.meta.url));

export interface RunningDemo {
  readonly config: DemoServiceConfig;
  readonly server: Server;
  readonly address: AddressInfo;
}

interface Seen {
  readonly client: string;
  readonly via: string;
}

const seenBySocket = new WeakMap<object, Seen>();

function describeHeader(h: InboundProxyHeader | undefined, socket: Socket): Seen {
  const fallback = `${socket.remoteAddress}:${socket.remotePort}`;
  if (h === undefined) return { client: fallback, via: 'no PROXY header (this is the socket peer)' };
  const v = `PROXY v${h.version}`;
  if (h.src === undefined) return { client: fallback, via: `${v} without addresses (this is the socket peer)` };
  const a = h.src.address.includes(':') ? `[${h.src.address}]` : h.src.address;
  return { client: `${a}:${h.src.port}`, via: `${v} header` };
}

/** Reads an optional PROXY header off the socket, then hands over the socket with the rest unread. */
function readProxyHeader(socket: Socket, then: (h: InboundProxyHeader | undefined) => void): void {
  let acc: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    acc = acc.length === 0 ? chunk : Buffer.concat([acc, chunk]);
    const sig = proxySignature(acc);
    if (sig === 'maybe') return;
    if (sig === 'none') return handOver(undefined, 0);
    const r = parseProxyHeader(acc);
    if (r.kind === 'incomplete') return;
    if (r.kind === 'invalid') {
      socket.end(`demo backend: bad PROXY header: ${r.reason}\r\n`);
      socket.removeListener('data', onData);
      return;
    }
    handOver(r.value, r.length);
  };
  const handOver = (h: InboundProxyHeader | undefined, used: number): void => {
    socket.removeListener('data', onData);
    socket.pause();
    if (used < acc.length) socket.unshift(acc.subarray(used));
    then(h);
  };
  socket.on('data', onData);
}

function answer(name: string, kind: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const seen = seenBySocket.get(req.socket) ?? { client: 'unknown', via: 'unknown' };
    const tls = req.socket instanceof TLSSocket ? req.socket : undefined;
    const lines = [
      `portplex demo backend "${name}" (${kind})`,
      `client address: ${seen.client} (from ${seen.via})`,
      `request: ${req.method} ${req.url} Host: ${req.headers.host ?? '-'}`,
    ];
    if (tls) lines.push(`TLS: SNI ${(tls as TLSSocket & { servername?: string | false }).servername || '-'}, ALPN ${tls.alpnProtocol || '-'}, ${tls.getProtocol() ?? ''}`);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-portplex-demo-backend': name });
    res.end(lines.join('\n') + '\n');
  };
}

function startOne(cfg: DemoServiceConfig, secure: () => SecureContext): Promise<RunningDemo> {
  const http = createHttpServer(answer(cfg.name, cfg.kind));
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    socket.on('error', () => socket.destroy());
    readProxyHeader(socket, (h) => {
      const seen = describeHeader(h, socket);
      if (cfg.kind === 'banner') {
        socket.write(`portplex demo backend "${cfg.name}": client address ${seen.client} (from ${seen.via}). Type a line, it is echoed back.\r\n`);
        socket.pipe(socket);
        socket.resume();
        return;
      }
      if (cfg.kind === 'http') {
        seenBySocket.set(socket, seen);
        http.emit('connection', socket);
        socket.resume();
        return;
      }
      const tls = new TLSSocket(socket, { isServer: true, secureContext: secure(), ALPNProtocols: ['http/1.1'] });
      tls.on('error', () => tls.destroy());
      seenBySocket.set(tls, seen);
      http.emit('connection', tls);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new PortplexError('PORTPLEX_ERR_DEMO', `demo service "${cfg.name}" cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${e.code ?? e.message}`)),
    );
    server.listen({ host: cfg.listen.host, port: cfg.listen.port }, () => {
      server.on('error', () => undefined);
      resolve({ config: cfg, server, address: server.address() as AddressInfo });
    });
  });
}

let demoContext: SecureContext | undefined;

/**
 * Reads the demo certificate, once. A worker calls this before it drops privileges: the files
 * may be readable only by the user that started portplex.
 */
export function loadDemoCertificate(configs: readonly DemoServiceConfig[]): void {
  if (demoContext !== undefined || !configs.some((c) => c.kind === 'https')) return;
  try {
    demoContext = createSecureContext({ cert: readFileSync(DEMO_CERT_DIR + 'demo-cert.pem'), key: readFileSync(DEMO_CERT_DIR + 'demo-key.pem') });
  } catch (e) {
    throw new PortplexError('PORTPLEX_ERR_DEMO', `cannot load the demo certificate from ${DEMO_CERT_DIR}: ${(e as Error).message}`);
  }
}

export async function startDemoServices(configs: readonly DemoServiceConfig[]): Promise<RunningDemo[]> {
  // Loaded up front: an unreadable key must stop startup with a clear error, not crash a connection later.
  loadDemoCertificate(configs);
  const ctx = demoContext;
  const secure = (): SecureContext => ctx!;
  const running: RunningDemo[] = [];
  try {
    for (const c of configs) running.push(await startOne(c, secure));
  } catch (e) {
    for (const r of running) r.server.close();
    throw e;
  }
  return running;
}
