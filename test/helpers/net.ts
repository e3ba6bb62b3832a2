/** Loopback helpers for end-to-end tests: backends that record what they receive, clients, and a portplex instance. */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { compileRulesText } from '../../src/config/load.js';
import { startPortplex, type RunningPortplex } from '../../src/app.js';
import { createLogger, type Logger } from '../../src/observe/logger.js';

export interface RecordingBackend {
  readonly server: Server;
  readonly port: number;
  /** Resolves with everything one accepted connection sent, once it ended (or was destroyed). */
  nextConnection(): Promise<{ received: Buffer; socket: Socket }>;
  close(): Promise<void>;
}

/**
 * A backend that records every byte received on each connection. `onConnection` may answer;
 * by default it answers nothing and ends its side when the client ends.
 */
export async function recordingBackend(onConnection?: (socket: Socket, received: () => Buffer) => void): Promise<RecordingBackend> {
  const waiting: ((v: { received: Buffer; socket: Socket }) => void)[] = [];
  const done: { received: Buffer; socket: Socket }[] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    const finish = (): void => {
      sockets.delete(socket);
      const rec = { received: Buffer.concat(chunks), socket };
      const w = waiting.shift();
      if (w) w(rec);
      else done.push(rec);
    };
    socket.once('close', finish);
    if (onConnection) onConnection(socket, () => Buffer.concat(chunks));
    else socket.on('end', () => socket.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    nextConnection: () => {
      const d = done.shift();
      return d ? Promise.resolve(d) : new Promise((r) => waiting.push(r));
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A port nothing listens on (bound then closed). */
export async function deadPort(): Promise<number> {
  // Below the kernel's ephemeral range: no bind to port 0 (every other test's listener) and no
  // outgoing connection's source port can take it while the test relies on it being closed.
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    /* not Linux: the default range */
  }
  const from = Math.max(1024, low - 8000);
  for (;;) {
    const port = from + Math.floor(Math.random() * (low - from));
    const s = createServer();
    const free = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!free) continue;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
}

/** Log lines captured as parsed JSON objects. */
export class LogCapture {
  readonly lines: Record<string, unknown>[] = [];
  readonly logger: Logger;
  private waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  constructor(level = 'info') {
    const stream = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (const text of chunk.toString('utf8').split('\n')) {
          if (!text) continue;
          const line = JSON.parse(text) as Record<string, unknown>;
          this.lines.push(line);
          this.waiters = this.waiters.filter((w) => (w.pred(line) ? (w.resolve(line), false) : true));
        }
        cb();
      },
    });
    this.logger = createLogger({ level, destination: stream });
  }
  /** Resolves with the first (past or future) line that satisfies `pred`. */
  waitFor(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const hit = this.lines.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
  closeLines(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.msg === 'connection closed');
  }
}

export interface TestPortplex {
  readonly running: RunningPortplex;
  /** The first TCP listener's port (0 if there is none). */
  readonly port: number;
  /** The first UDP listener's port (0 if there is none). */
  readonly udpPort: number;
  readonly logs: LogCapture;
  close(): Promise<void>;
}

/** Starts portplex from rule-file text (listeners should bind port 0). */
export async function startFromYaml(yaml: string): Promise<TestPortplex> {
  const loaded = compileRulesText(yaml, 'test.yaml');
  if (!loaded.ok) throw new Error('test rules invalid:\n' + loaded.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  const logs = new LogCapture('debug');
  const running = await startPortplex(loaded.rules, logs.logger);
  return { running, port: running.listeners[0]?.address.port ?? 0, udpPort: running.udpListeners[0]?.address.port ?? 0, logs, close: () => running.close() };
}

/** Connects, writes `chunks` one write per chunk (with a tick between), half-closes if asked, and collects the answer until the server closes. */
export async function exchange(port: number, chunks: readonly Uint8Array[], opts: { end?: boolean; gapMs?: number } = {}): Promise<Buffer> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const got: Buffer[] = [];
  socket.on('data', (c: Buffer) => got.push(c));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('error', () => undefined);
  for (const c of chunks) {
    socket.write(c);
    const gap = opts.gapMs ?? 1;
    await new Promise((r) => (gap === 0 ? setImmediate(r) : setTimeout(r, gap)));
  }
  // Without an early FIN, the client still answers the server's FIN with its own, as most clients do.
  if (opts.end !== false) socket.end();
  else socket.once('end', () => socket.end());
  await closed;
  return Buffer.concat(got);
}

export function rulesFor(backends: Record<string, { port: number; sendProxy?: string; backupPort?: number }>, routes: string, extra = ''): string {
  const b = Object.entries(backends)
    .map(([name, v]) => {
      const servers = [`"127.0.0.1:${v.port}"`];
      if (v.backupPort !== undefined) servers.push(`{ address: "127.0.0.1:${v.backupPort}", backup: true }`);
      return `  ${name}: { send_proxy: ${v.sendProxy ?? 'off'}, connect_timeout: 2s, servers: [${servers.join(', ')}] }`;
    })
    .join('\n');
  return `listeners:\n  - bind: "127.0.0.1:0"\ninspect: { timeout: 10s }\nbackends:\n${b}\n${routes ? `routes:\n${routes}\n` : ''}${extra}`;
}
