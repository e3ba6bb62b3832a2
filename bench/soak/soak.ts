/**
 * Soak: runs portplex in this process behind loopback echo backends and drives a seeded mix of
 * well-formed TLS / HTTP / SSH connections (directly, over IPv6, and behind an inbound PROXY
 * header, v1, v2 or LOCAL), garbage, empty connections, silent ones, resets mid-peek and
 * mid-splice, slow drips, oversized claims (TLS, PROXY v2, PROXY v1), forged PROXY headers, a dead
 * backend, a flaky backend (resets or half-closes mid-stream) and idle connections, for a set time. Then, after a settle time, it checks that
 * descriptors, portplex's counters, handles and heap are back at their baseline, that every
 * well-formed connection got exactly its bytes back (sha256) behind a correct PROXY header, that
 * every connection wrote exactly one log line with an expected reason, and that nothing threw.
 *
 * Loopback only; bounded in time (durationMs plus per-connection timeouts) and stops by itself.
 */
import { createHash, randomInt, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startPortplex, type RunningPortplex } from '../../src/app.js';
import { compileRulesText } from '../../src/config/load.js';
import { createLogger } from '../../src/observe/logger.js';
import { parseClientHello } from '../../src/protocols/tls/client-hello.js';
import { buildClientHello } from '../../test/helpers/tls-hello-builder.js';
import { canonicalIp, readProxyHeader, Rng, writeLocalHeader, writeProxyHeader, type ReceivedHeader } from './wire.js';

export interface SoakOptions {
  readonly durationMs: number;
  readonly concurrency: number;
  readonly seed: number;
  /** Progress lines (to stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Quiet time after the load before the final measurement (default 2000 ms). */
  readonly settleMs?: number;
  /** Heap allowed above the baseline at the end (default 10 MiB). */
  readonly heapSlackBytes?: number;
  /** Descriptors allowed above the baseline at the end (default 5). */
  readonly fdSlack?: number;
  /** Warm-up load before the baseline is taken (default min(2000, durationMs / 4) ms). */
  readonly warmupMs?: number;
  /** Called right after each measurement (after gc), e.g. to write a heap snapshot when hunting a leak. */
  readonly onMeasured?: (phase: 'initial' | 'baseline' | 'final') => void;
}

const INSPECT_TIMEOUT_MS = 500;
const PROXY_HEADER_TIMEOUT_MS = 1000;
const INSPECT_MAX_BYTES = 16384;
/** timeouts.idle: short, so the idle path runs; any connection but an 'idle' one closed by it is a failure. */
const IDLE_MS = 2000;
/** Portplex must have closed a connection it should close within this long. */
const CLOSE_BOUND_MS = 4000;
/** Bound on one well-formed exchange (payloads are at most 512 KiB on loopback). */
const EXCHANGE_BOUND_MS = 30_000;

const KINDS = [
  'tls',
  'http',
  'ssh',
  'proxied',
  'garbage',
  'empty-fin',
  'empty-rst',
  'silent',
  'rst-mid-peek',
  'rst-mid-splice',
  'slow-drip',
  'oversized-tls',
  'oversized-pp2',
  'pp1-no-crlf',
  'forged-proxy',
  'dead-backend',
  'flaky-backend',
  'idle',
] as const;
type Kind = (typeof KINDS)[number];

const WEIGHTS: Record<Kind, number> = {
  tls: 16,
  http: 13,
  ssh: 10,
  proxied: 10,
  garbage: 6,
  'empty-fin': 4,
  'empty-rst': 4,
  silent: 2,
  'rst-mid-peek': 5,
  'rst-mid-splice': 5,
  'slow-drip': 2,
  'oversized-tls': 4,
  'oversized-pp2': 3,
  'pp1-no-crlf': 3,
  'forged-proxy': 3,
  'dead-backend': 4,
  'flaky-backend': 4,
  idle: 2,
};
const WELL_FORMED: ReadonlySet<Kind> = new Set(['tls', 'http', 'ssh', 'proxied']);
/** Kinds that reset their connection: only they may be logged without a client address. */
const RESETTING: ReadonlySet<Kind> = new Set(['empty-rst', 'rst-mid-peek', 'rst-mid-splice', 'slow-drip']);

/**
 * The log reasons each kind may end with. Kinds that reset their connection allow several (their
 * fate depends on timing), never idle-timeout: a connection left to the idle timer is a leak.
 */
const EXPECTED_REASONS: Partial<Record<Kind, readonly string[]>> = {
  tls: ['done'],
  http: ['done'],
  ssh: ['done'],
  proxied: ['done'],
  idle: ['idle-timeout'],
  garbage: ['no-route'],
  'empty-fin': ['no-route'],
  // A connection reset before portplex accepted it reads as data then EOF on Linux: no-route.
  'empty-rst': ['client-error', 'client-closed-during-inspect', 'no-route'],
  silent: ['no-route'],
  // no-route: the deadline passed before the reset (the loop is busy under load), or the reset read
  // as EOF (below); done: a reset read as EOF once the bytes so far were routed.
  'rst-mid-peek': ['client-error', 'client-closed-during-inspect', 'client-closed-during-connect', 'no-route', 'done'],
  'rst-mid-splice': ['client-error', 'client-closed-during-inspect', 'client-closed-during-connect', 'no-route', 'done'],
  'slow-drip': ['client-error', 'client-closed-during-inspect', 'client-closed-during-connect', 'no-route', 'done'],
  'oversized-tls': ['no-route'],
  'oversized-pp2': ['proxy-refused'],
  'pp1-no-crlf': ['proxy-refused'],
  'forged-proxy': ['proxy-refused'],
  'dead-backend': ['backend-unreachable'],
  // done: a reset that arrives together with the backend's last data reads as EOF in libuv (POLLHUP
  // after a partial read is reported as end of stream), so portplex sees a clean close.
  'flaky-backend': ['backend-error', 'done'],
};

type Proto = 'tls' | 'http' | 'ssh';
const ECHO_FOR: Record<Proto, string> = { tls: 'tls-echo', http: 'http-echo', ssh: 'ssh-echo' };

interface KindStats {
  started: number;
  ok: number;
  failed: number;
  /** portplex's log reasons for this kind's connections. */
  reasons: Record<string, number>;
  unexpectedReasons: number;
}

interface Resources {
  fds: number;
  heapUsed: number;
  arrayBuffers: number;
  external: number;
  rss: number;
  handles: Record<string, number>;
  portplex: { open: number; inspectBufferBytes: number; trackedAddresses: number; refused: Record<string, number> };
  backendsActive: Record<string, number>;
}

export interface SoakReport {
  ok: boolean;
  failedChecks: string[];
  config: { durationMs: number; concurrency: number; seed: number; settleMs: number; warmupMs: number; inspectTimeoutMs: number; ipv6: boolean; node: string };
  timing: { warmupMs: number; loadMs: number; drainMs: number; settleMs: number; totalMs: number };
  connections: {
    total: number;
    afterBaseline: number;
    perSecond: number;
    byKind: Record<string, KindStats>;
    clientConnectErrors: Record<string, number>;
  };
  wellFormed: { total: number; ok: number; local: number; slow: number; slowSamples: string[]; corrupted: number; incomplete: number; badHeader: number; bytesEchoed: number; halfClosed: number; ipv6: number };
  portplexLog: { closeLines: number; reasons: Record<string, number>; byLevel: Record<string, number>; otherMessages: Record<string, number>; unmatchedCloseLines: number; anonymousCloseLines: number; connectionsWithoutCloseLine: number };
  echoBackends: { accepted: number; headerErrors: number; localHeaders: Record<string, number>; openSockets: number; unconsumedHeaders: number };
  uncaught: { exceptions: number; rejections: number };
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  resources: { initial: Resources; baseline: Resources; final: Resources; heapGrowthBytes: number; heapGrowthPerConnectionBytes: number; fdGrowth: number };
  alive: { ok: boolean; detail: string };
  samples: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function getGc(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function countFds(): number {
  return readdirSync('/proc/self/fd').length;
}

function handleCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** A client socket with what it has seen so far; `until` waits for a condition with a bound. */
class Probe {
  bytesIn = 0;
  /** When the last byte arrived: the idle clock runs from there, not from when a poll noticed it. */
  lastInAt = 0;
  ended = false;
  closed = false;
  error: string | undefined;
  readonly hash: Hash | undefined;
  pending: Pending = { kind: 'tls' };
  private readonly waiters = new Set<() => boolean>();
  constructor(
    readonly socket: Socket,
    hashing: boolean,
  ) {
    this.hash = hashing ? createHash('sha256') : undefined;
    const notify = (): void => {
      for (const w of this.waiters) if (w()) this.waiters.delete(w);
    };
    socket.on('data', (c: Buffer) => {
      this.bytesIn += c.length;
      this.lastInAt = performance.now();
      this.hash?.update(c);
      notify();
    });
    socket.on('end', () => {
      this.ended = true;
      notify();
    });
    socket.on('drain', notify);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.error ??= e.code ?? e.message;
      notify();
    });
    socket.on('close', () => {
      this.closed = true;
      notify();
    });
  }
  /** Closed, ended or reset by the other side. */
  get gone(): boolean {
    return this.ended || this.closed || this.error !== undefined;
  }
  until(pred: () => boolean, ms: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = (): boolean => {
        if (!pred()) return false;
        clearTimeout(t);
        resolve(true);
        return true;
      };
      const t = setTimeout(() => {
        this.waiters.delete(w);
        resolve(pred());
      }, ms);
      this.waiters.add(w);
    });
  }
  /** Writes with backpressure; false when the socket went away first. */
  async write(chunk: Buffer): Promise<boolean> {
    if (this.socket.destroyed || this.socket.writableEnded) return false;
    if (!this.socket.write(chunk)) await this.until(() => !this.socket.writableNeedDrain || this.socket.destroyed, EXCHANGE_BOUND_MS);
    return !this.socket.destroyed;
  }
}

interface EchoServer {
  readonly name: string;
  readonly server: Server;
  readonly port: number;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/** Source address:port pairs that do not repeat within a run (see `sources` in the soak). */
class SourceAllocator {
  private n = 0;
  constructor(private readonly offset: number) {}

  next(family: 4 | 6, resetting: boolean): { localAddress: string; localPort: number } {
    const n = this.n++;
    if (family === 6) return { localAddress: '::1', localPort: 20_000 + ((this.offset + n) % 10_000) };
    const host = (resetting ? 2 : 128) + (n % 126);
    return { localAddress: `127.0.0.${host}`, localPort: 20_000 + ((this.offset + Math.floor(n / 126)) % 10_000) };
  }
}

interface Target {
  readonly listener: string;
  readonly host: string;
  readonly port: number;
}

interface Pending {
  readonly kind: Kind;
  /** Well-formed: ms the protocol preamble took to write, set once it is all written. */
  preambleMs?: number;
}

interface TlsHello {
  readonly bytes: Buffer;
  readonly sni: string | undefined;
  readonly alpn: string | undefined;
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const t0 = performance.now();
  const say = opts.log ?? ((): void => undefined);
  const settleMs = opts.settleMs ?? 2000;
  const heapSlack = opts.heapSlackBytes ?? 10 * 1024 * 1024;
  const fdSlack = opts.fdSlack ?? 5;
  const warmupMs = opts.warmupMs ?? Math.min(2000, Math.floor(opts.durationMs / 4));
  const gc = getGc();
  const rng = new Rng(opts.seed);
  const samples: string[] = [];
  const sample = (s: string): void => {
    if (samples.length < 40) samples.push(s);
  };

  // ---- uncaught errors: counted, never fatal while the soak runs
  const uncaught = { exceptions: 0, rejections: 0 };
  const onException = (e: unknown): void => {
    uncaught.exceptions++;
    sample(`uncaughtException: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  };
  const onRejection = (e: unknown): void => {
    uncaught.rejections++;
    sample(`unhandledRejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  };
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);

  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();

  // ---- inputs
  const fixtures = ['chromium-156-pq-clienthello.bin', 'node20-clienthello.bin'].map((f) => readFileSync(new URL(`../../../test/fixtures/${f}`, import.meta.url)));
  const hellos: TlsHello[] = [];
  const describe = (bytes: Buffer): TlsHello => {
    const r = parseClientHello(bytes);
    if (r.kind !== 'ok') throw new Error('soak: a ClientHello does not parse');
    return { bytes, sni: r.value.sni, alpn: r.value.alpn[0] };
  };
  for (const f of fixtures) hellos.push(describe(f));
  const helloRng = new Rng(opts.seed ^ 0x5a5a5a5a);
  for (let i = 0; i < 10; i++) {
    hellos.push(
      describe(
        buildClientHello({
          sni: helloRng.pick(['soak.test', 'www.soak.test', 'a.soak.test', undefined]),
          alpn: helloRng.pick([['h2', 'http/1.1'], ['http/1.1'], ['acme-tls/1'], undefined]),
          versions: [0x0304, 0x0303],
          grease: helloRng.chance(0.5),
          keyShares: helloRng.chance(0.5) ? [{ group: 0x11ec, length: 1216 }, { group: 0x001d, length: 32 }] : [{ group: 0x001d, length: 32 }],
        }),
      ),
    );
  }
  const deadHello = buildClientHello({ sni: 'dead.test', alpn: ['h2'], versions: [0x0304] });
  const pool = new Rng(opts.seed ^ 0x1234567).bytes(1 << 20);

  // ---- echo backends: verify the PROXY header, then return exactly the bytes after it
  const headers = new Map<string, ReceivedHeader & { echo: string }>();
  const echoStats = { accepted: 0, headerErrors: 0 };
  /** LOCAL / UNKNOWN headers seen per echo backend (they carry no address to match a client by). */
  const localHeaders: Record<string, number> = {};
  const localSent: Record<string, number> = {};
  const echoRng = new Rng(opts.seed ^ 0x0badf00d);
  /** `resetting`: a flaky backend that resets (or half-closes) the connection once it echoed 0-8 KiB. */
  const startEcho = async (name: string, version: 1 | 2, resetting = false): Promise<EchoServer> => {
    const sockets = new Set<Socket>();
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
      echoStats.accepted++;
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      let buf: Buffer = Buffer.alloc(0);
      const onEndEarly = (): void => {
        s.end();
      };
      const onData = (c: Buffer): void => {
        buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
        const r = readProxyHeader(buf);
        if (r.kind === 'incomplete') return;
        s.removeListener('data', onData);
        s.removeListener('end', onEndEarly);
        if (r.kind === 'invalid' || r.header.version !== version) {
          echoStats.headerErrors++;
          sample(`${name}: bad PROXY header: ${r.kind === 'invalid' ? r.reason : `v${r.header.version}, expected v${version}`}`);
          s.destroy();
          return;
        }
        if (r.header.family === 'local') localHeaders[name] = (localHeaders[name] ?? 0) + 1;
        else if (!resetting) headers.set(`${r.header.src}|${r.header.srcPort}|${r.header.dstPort}`, { ...r.header, echo: name });
        const rest = buf.subarray(r.header.length);
        buf = Buffer.alloc(0);
        if (resetting) {
          // Half of the time a reset; else the backend ends its side early (FIN first) and keeps
          // reading: portplex must pass the FIN on while the client is still sending.
          const after = echoRng.int(0, 8192);
          const finFirst = echoRng.chance(0.5);
          let seen = rest.length;
          let done = false;
          const maybeReset = (): void => {
            if (done || seen < after || s.destroyed) return;
            done = true;
            if (!finFirst) {
              s.resetAndDestroy();
              return;
            }
            s.unpipe(s);
            s.end();
            s.resume();
          };
          s.on('data', (c: Buffer) => {
            seen += c.length;
            maybeReset();
          });
          if (rest.length > 0) s.write(rest);
          s.pipe(s);
          maybeReset();
          return;
        }
        if (rest.length > 0) s.write(rest);
        s.pipe(s);
      };
      s.on('data', onData);
      s.on('end', onEndEarly);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      name,
      server,
      sockets,
      port: (server.address() as AddressInfo).port,
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  };
  const echoes = [await startEcho('tls-echo', 2), await startEcho('http-echo', 1), await startEcho('ssh-echo', 2), await startEcho('rst-echo', 1, true)];
  const deadPort = await (async () => {
    const s = createServer();
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  })();

  const ipv6 = await new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });

  // ---- portplex, in this process
  const yaml = `listeners:
  - { name: plain, bind: "127.0.0.1:0" }
  - name: proxied
    bind: "127.0.0.1:0"
    proxy_protocol: { accept: optional, trusted: ["127.0.0.1/32"], timeout: ${PROXY_HEADER_TIMEOUT_MS}ms }
${ipv6 ? '  - { name: plain6, bind: "[::1]:0" }\n' : ''}inspect: { timeout: ${INSPECT_TIMEOUT_MS}ms, max_bytes: ${INSPECT_MAX_BYTES} }
timeouts: { idle: ${IDLE_MS}ms }
limits:
  per_ip: { connections: 100000, inspecting: 100000, rate: 1000000, burst: 10000000 }
backends:
  tls-echo: { send_proxy: v2, connect_timeout: 2s, servers: ["127.0.0.1:${echoes[0]!.port}"] }
  http-echo: { send_proxy: v1, connect_timeout: 2s, servers: ["127.0.0.1:${echoes[1]!.port}"] }
  ssh-echo:
    send_proxy: v2
    proxy_v2: { crc32c: true, unique_id: true }
    connect_timeout: 2s
    servers: ["127.0.0.1:${echoes[2]!.port}"]
  dead: { send_proxy: v2, connect_timeout: 1s, servers: ["127.0.0.1:${deadPort}"] }
  flaky: { send_proxy: v1, connect_timeout: 2s, servers: ["127.0.0.1:${echoes[3]!.port}"] }
routes:
  - { name: dead-tls, when: { tls: { sni: dead.test } }, to: dead }
  - { name: dead-http, when: { http: { host: dead.test } }, to: dead }
  - { name: flaky-http, when: { http: { host: reset.test } }, to: flaky }
  - { name: tls, when: { protocol: tls }, to: tls-echo }
  - { name: http, when: { protocol: http }, to: http-echo }
  - { name: ssh, when: { protocol: ssh }, to: ssh-echo }
`;
  const compiled = compileRulesText(yaml, 'soak.yaml');
  if (!compiled.ok) throw new Error('soak rules invalid: ' + compiled.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('; '));

  // ---- portplex's log: one close line per connection, matched to the client by listener and port
  const pending = new Map<string, Pending[]>();
  const slowClients = { count: 0, samples: [] as string[] };
  let anonymousCloseLines = 0;
  const orphanLines = new Map<string, string[]>();
  const byKind = Object.fromEntries(KINDS.map((k) => [k, { started: 0, ok: 0, failed: 0, reasons: {}, unexpectedReasons: 0 } as KindStats])) as Record<Kind, KindStats>;
  const logStats = { closeLines: 0, reasons: {} as Record<string, number>, byLevel: {} as Record<string, number>, otherMessages: {} as Record<string, number>, unmatchedCloseLines: 0 };
  const levelName: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  const attribute = (p: Pending, reason: string, detail: unknown): void => {
    const kind = p.kind;
    const ks = byKind[kind];
    ks.reasons[reason] = (ks.reasons[reason] ?? 0) + 1;
    const allowed = EXPECTED_REASONS[kind];
    // A well-formed client still writing its preamble at the inspect deadline, or one that took
    // most of the deadline to write it (the load starves the event loop), is routed as configured:
    // that is a slow client, counted apart, not a portplex failure.
    if (WELL_FORMED.has(kind) && reason === 'no-route' && (p.preambleMs === undefined || p.preambleMs > INSPECT_TIMEOUT_MS * 0.6)) {
      slowClients.count++;
      if (slowClients.samples.length < 5) slowClients.samples.push(`${kind}: preamble ${p.preambleMs === undefined ? 'still being written' : `written in ${Math.round(p.preambleMs)} ms`} at the deadline`);
      return;
    }
    if (allowed !== undefined && !allowed.includes(reason)) {
      ks.unexpectedReasons++;
      sample(`${kind}: portplex closed it with reason ${reason} (${String(detail)}), expected ${allowed.join('|')}`);
    }
  };
  const onLogLine = (line: Record<string, unknown>): void => {
    const lvl = levelName[line.level as number] ?? String(line.level);
    logStats.byLevel[lvl] = (logStats.byLevel[lvl] ?? 0) + 1;
    if (line.msg !== 'connection closed') {
      const m = String(line.msg);
      logStats.otherMessages[m] = (logStats.otherMessages[m] ?? 0) + 1;
      if ((line.level as number) >= 50) sample(`portplex ${lvl} log: ${JSON.stringify(line).slice(0, 400)}`);
      return;
    }
    logStats.closeLines++;
    const reason = String(line.reason);
    logStats.reasons[reason] = (logStats.reasons[reason] ?? 0) + 1;
    const who = (line.peer ?? line.client) as { port?: number } | undefined;
    if (!who?.port) {
      // Reset before portplex could read the peer's address: logged without one, so it cannot be
      // matched to a client; counted, and compared with the clients left without a line.
      anonymousCloseLines++;
      logStats.reasons[`${reason} (no client address)`] = (logStats.reasons[`${reason} (no client address)`] ?? 0) + 1;
      return;
    }
    const key = `${String(line.listener)}|${String((who as { address?: string }).address)}|${who.port}`;
    const list = pending.get(key);
    const p = list?.shift();
    if (list !== undefined && list.length === 0) pending.delete(key);
    if (p === undefined) {
      const o = orphanLines.get(key);
      if (o) o.push(reason);
      else orphanLines.set(key, [reason]);
      return;
    }
    attribute(p, reason, line.detail);
  };
  const register = (target: Target, localAddress: string, localPort: number, kind: Kind): Pending => {
    const key = `${target.listener}|${localAddress}|${localPort}`;
    const entry: Pending = { kind };
    const o = orphanLines.get(key);
    const reason = o?.shift();
    if (o !== undefined && o.length === 0) orphanLines.delete(key);
    if (reason !== undefined) {
      attribute(entry, reason, 'logged before the client registered');
      return entry;
    }
    const list = pending.get(key);
    if (list) list.push(entry);
    else pending.set(key, [entry]);
    return entry;
  };
  let partial = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        if (!l) continue;
        try {
          onLogLine(JSON.parse(l) as Record<string, unknown>);
        } catch (e) {
          sample(`unparsable log line (${String(e)}): ${l.slice(0, 200)}`);
        }
      }
      cb();
    },
  });
  const running: RunningPortplex = await startPortplex(compiled.rules, createLogger({ level: 'debug', destination: sink }));
  const port = (name: string): number => running.listeners.find((l) => l.config.name === name)!.address.port;
  const plain: Target = { listener: 'plain', host: '127.0.0.1', port: port('plain') };
  const proxied: Target = { listener: 'proxied', host: '127.0.0.1', port: port('proxied') };
  const plain6: Target | undefined = ipv6 ? { listener: 'plain6', host: '::1', port: port('plain6') } : undefined;

  const measure = (): Resources => {
    gc();
    gc();
    const m = process.memoryUsage();
    const backendsActive: Record<string, number> = {};
    for (const b of running.snapshot()) backendsActive[b.name] = b.servers.reduce((n, s) => n + s.active, 0);
    return { fds: countFds(), heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, external: m.external, rss: m.rss, handles: handleCounts(), portplex: running.runtime().limits.snapshot(), backendsActive };
  };

  // ---- clients
  const connectErrors: Record<string, number> = {};
  const wf = { total: 0, ok: 0, local: 0, slow: 0, corrupted: 0, incomplete: 0, badHeader: 0, bytesEchoed: 0, halfClosed: 0, ipv6: 0 };
  let connected = 0;

  /**
   * Close lines are matched to clients by listener|address|port. A reset leaves no TIME_WAIT on
   * either side, so the kernel may hand the same port to the next connect at once, and the two
   * connections' close lines can arrive in either order: matched first-in first-out, they swap
   * (seen: an empty-rst client matched to a spliced client's 'done'). So no connection of the
   * plain listeners uses an ephemeral port: each gets a source address:port no other connection
   * of this run has (127.0.0.2-127 for the kinds that reset, 127.0.0.128-254 for the rest, ports
   * 20000-29999, below Linux's ephemeral range; on ::1 the port alone, unique for 10000
   * connections). The proxied listener trusts 127.0.0.1 only and keeps ephemeral ports: its kinds
   * end with a FIN, whose TIME_WAIT keeps the kernel from reusing the port.
   */
  const sources = new SourceAllocator(randomInt(0, 10_000));
  const open = (target: Target, kind: Kind, hashing: boolean): Promise<Probe | undefined> =>
    new Promise((resolve) => {
      const resetting = RESETTING.has(kind);
      if (resetting && target.host !== '127.0.0.1') throw new Error('soak: resetting kinds connect over IPv4');
      const source = target === proxied ? {} : sources.next(target.host === '::1' ? 6 : 4, resetting);
      const s = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true, ...source });
      const t = setTimeout(() => s.destroy(new Error('client connect timeout')), 5000);
      const onError = (e: NodeJS.ErrnoException): void => {
        clearTimeout(t);
        const code = e.code ?? e.message;
        connectErrors[code] = (connectErrors[code] ?? 0) + 1;
        if ((connectErrors[code] ?? 0) <= 3) sample(`${kind}: client connect to ${target.listener} failed: ${code}`);
        resolve(undefined);
      };
      s.once('error', onError);
      s.once('connect', () => {
        clearTimeout(t);
        s.removeListener('error', onError);
        connected++;
        const probe = new Probe(s, hashing);
        probe.pending = register(target, s.localAddress!, s.localPort!, kind);
        resolve(probe);
      });
    });

  const plainTarget = (): Target => (plain6 !== undefined && rng.chance(0.3) ? plain6 : plain);
  const payloadFor = (): Buffer => {
    const r = rng.float();
    const n = r < 0.55 ? rng.int(0, 2048) : r < 0.9 ? rng.int(2048, 32768) : rng.int(32768, 512 * 1024);
    const start = rng.int(0, pool.length - 1);
    const body = start + n <= pool.length ? pool.subarray(start, start + n) : Buffer.concat([pool.subarray(start), pool.subarray(0, n - (pool.length - start))]);
    // A unique prefix, so a connection that got another's bytes is always caught.
    return Buffer.concat([rng.bytes(16), body]);
  };
  const preambleFor = (proto: Proto): { bytes: Buffer; hello?: TlsHello } => {
    if (proto === 'tls') {
      const hello = rng.pick(hellos);
      return { bytes: hello.bytes, hello };
    }
    if (proto === 'http') {
      const method = rng.pick(['GET', 'POST', 'PUT', 'OPTIONS']);
      const host = rng.pick(['soak.test', 'www.soak.test', '127.0.0.1:8443']);
      return { bytes: Buffer.from(`${method} /soak/${rng.u32().toString(16)} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: soak\r\nX-Pad: ${'p'.repeat(rng.int(0, 600))}\r\n\r\n`, 'latin1') };
    }
    return { bytes: Buffer.from(`SSH-2.0-soak_${rng.int(1, 9)}.${rng.int(0, 9)}${rng.chance(0.5) ? ' comment' : ''}\r\n`, 'latin1') };
  };
  /** A short pause between writes: none, a tick, or a few ms. */
  const gap = async (): Promise<void> => {
    const r = rng.float();
    if (r < 0.5) return;
    if (r < 0.85) await tick();
    else await sleep(rng.int(1, 4));
  };

  /**
   * A well-formed exchange: [inbound header] + protocol preamble + payload in random chunks, then
   * either a half-close (FIN, still expecting the whole echo) or reading the echo to its end
   * first. Checks the echoed bytes (length and sha256) and the header the echo backend received.
   */
  const wellFormed = async (kind: Kind, target: Target, proto: Proto, inbound?: { version: 1 | 2 | 'local'; src: string; crc: boolean }): Promise<string | undefined> => {
    wf.total++;
    const p = await open(target, kind, true);
    if (p === undefined) return 'connect failed';
    const s = p.socket;
    if (target.listener === 'plain6') wf.ipv6++;
    try {
      const { bytes: pre, hello } = preambleFor(proto);
      const payload = payloadFor();
      const sent = createHash('sha256');
      const total = pre.length + payload.length;
      const localPort = s.localPort!;
      const localAddress = s.localAddress!;
      const dstPort = inbound !== undefined ? 443 : target.port;
      // [The inbound header and] the preamble in random pieces, with at most ~16 pauses of a tick:
      // the client must be done well within the inspect timeout even when the loop is busy.
      const t = performance.now();
      const inboundHeader =
        inbound === undefined ? undefined : inbound.version === 'local' ? writeLocalHeader() : writeProxyHeader(inbound.version, inbound.src, localPort, '203.0.113.1', 443, inbound.crc);
      const first = inboundHeader !== undefined ? Buffer.concat([inboundHeader, pre]) : pre;
      const preChunks = rng.split(first, rng.pick([1, 7, 64, 200, 4096]));
      const preEvery = Math.max(1, Math.ceil(preChunks.length / 16));
      for (let i = 0; i < preChunks.length; i++) {
        if (!(await p.write(preChunks[i]!))) break;
        if (i % preEvery === preEvery - 1 && rng.chance(0.5)) await tick();
      }
      p.pending.preambleMs = performance.now() - t;
      sent.update(pre);
      // The payload in random pieces with at most ~32 pauses (a tick or a few ms).
      const chunks = rng.split(payload, payload.length > 65536 ? 65536 : rng.pick([1, 100, 1500, 16384].filter((n) => n > 1 || payload.length <= 4096)));
      const every = Math.max(1, Math.ceil(chunks.length / 32));
      for (let i = 0; i < chunks.length; i++) {
        if (!(await p.write(chunks[i]!))) break;
        sent.update(chunks[i]!);
        if (i % every === every - 1) await gap();
      }
      const halfClose = rng.chance(0.5);
      if (halfClose) {
        wf.halfClosed++;
        s.end();
        await p.until(() => p.ended || p.closed, EXCHANGE_BOUND_MS);
      } else {
        await p.until(() => p.bytesIn >= total || p.gone, EXCHANGE_BOUND_MS);
        s.end();
        await p.until(() => p.ended || p.closed, 5000);
      }
      if (p.bytesIn === 0 && (p.pending.preambleMs ?? 0) > INSPECT_TIMEOUT_MS * 0.6) {
        wf.slow++;
        return undefined;
      }
      if (p.bytesIn !== total) {
        if (p.bytesIn < total) wf.incomplete++;
        else wf.corrupted++;
        return `${proto}${inbound ? ` behind PROXY v${inbound.version}` : ''} via ${target.listener}: got ${p.bytesIn} of ${total} bytes back (${halfClose ? 'half-close' : 'duplex'}, ended=${p.ended}, closed=${p.closed}, error=${p.error ?? '-'})`;
      }
      if (p.hash!.digest('hex') !== sent.digest('hex')) {
        wf.corrupted++;
        return `${proto} via ${target.listener}: ${total} bytes back but the sha256 differs (CORRUPTED)`;
      }
      if (inbound?.version === 'local') {
        // A LOCAL inbound header is passed on as LOCAL / UNKNOWN: counted per backend, checked at the end.
        localSent[ECHO_FOR[proto]] = (localSent[ECHO_FOR[proto]] ?? 0) + 1;
        wf.local++;
        wf.ok++;
        wf.bytesEchoed += total;
        return undefined;
      }
      const src = inbound?.src ?? localAddress;
      const key = `${canonicalIp(src)}|${localPort}|${dstPort}`;
      const h = headers.get(key);
      headers.delete(key);
      const expectDst = canonicalIp(inbound !== undefined ? '203.0.113.1' : target.host);
      const problems: string[] = [];
      if (h === undefined) problems.push(`no header recorded for ${key}`);
      else {
        if (h.echo !== ECHO_FOR[proto]) problems.push(`reached ${h.echo}, expected ${ECHO_FOR[proto]}`);
        if (h.dst !== expectDst) problems.push(`dst ${h.dst}, expected ${expectDst}`);
        if (h.family !== (src.includes(':') ? 'TCP6' : 'TCP4')) problems.push(`family ${h.family}`);
        if (proto === 'tls') {
          if (h.authority !== hello?.sni) problems.push(`authority ${h.authority}, expected ${hello?.sni}`);
          if (h.alpn !== hello?.alpn) problems.push(`alpn ${h.alpn}, expected ${hello?.alpn}`);
        }
        if (proto === 'ssh') {
          if (h.crcOk !== true) problems.push(`crc32c ${String(h.crcOk)}`);
          if (h.uniqueIdLength !== 16) problems.push(`unique_id length ${String(h.uniqueIdLength)}`);
        }
      }
      if (problems.length > 0) {
        wf.badHeader++;
        return `${proto} via ${target.listener}: PROXY header: ${problems.join('; ')}`;
      }
      wf.ok++;
      wf.bytesEchoed += total;
      return undefined;
    } finally {
      s.destroy();
    }
  };

  /** Expects portplex to close the connection within `bound` ms without a byte back. */
  const expectClosed = async (p: Probe, what: string, bound = CLOSE_BOUND_MS): Promise<string | undefined> => {
    const start = performance.now();
    const gone = await p.until(() => p.gone, bound);
    const ms = Math.round(performance.now() - start);
    p.socket.destroy();
    if (!gone) return `${what}: still open ${ms} ms later (portplex should have closed it)`;
    if (p.bytesIn > 0) return `${what}: got ${p.bytesIn} bytes back`;
    return undefined;
  };

  const garbageBytes = (n: number): Buffer => {
    const b = rng.bytes(Math.max(1, n));
    // A first byte no protocol, nor a PROXY signature, starts with.
    const first = [...Array.from({ length: 13 }, (_, i) => i), 0x0e, 0x0f, 0x10, 0x11, 0x17, 0x18, 0x19, 0x1f, 0x61, 0x62, 0x7a, 0x7e];
    b[0] = rng.pick(first);
    return b;
  };

  const runKind = async (kind: Kind): Promise<string | undefined> => {
    switch (kind) {
      case 'tls':
      case 'http':
      case 'ssh':
        return wellFormed(kind, plainTarget(), kind);
      case 'proxied': {
        const src = rng.chance(0.8) ? `192.0.2.${rng.int(1, 254)}` : `198.51.100.${rng.int(1, 254)}`;
        const r = rng.float();
        return wellFormed(kind, proxied, rng.pick(['tls', 'http', 'ssh'] as const), { version: r < 0.15 ? 'local' : r < 0.575 ? 1 : 2, src, crc: rng.chance(0.5) });
      }
      case 'garbage': {
        const p = await open(plainTarget(), kind, false);
        if (!p) return 'connect failed';
        const mode = rng.pick(['fin', 'deadline', 'over-max'] as const);
        const bytes = garbageBytes(mode === 'over-max' ? rng.int(INSPECT_MAX_BYTES + 1, INSPECT_MAX_BYTES * 2) : rng.int(1, 4000));
        for (const c of rng.split(bytes, 2048)) if (!(await p.write(c))) break;
        if (mode === 'fin') p.socket.end();
        return expectClosed(p, `garbage (${mode})`);
      }
      case 'empty-fin': {
        const p = await open(plainTarget(), kind, false);
        if (!p) return 'connect failed';
        p.socket.end();
        return expectClosed(p, 'empty connection (FIN)');
      }
      case 'empty-rst': {
        const p = await open(plain, kind, false);
        if (!p) return 'connect failed';
        if (rng.chance(0.5)) await tick();
        p.socket.resetAndDestroy();
        return undefined;
      }
      case 'silent': {
        const target = rng.chance(0.7) ? plainTarget() : proxied;
        const p = await open(target, kind, false);
        if (!p) return 'connect failed';
        return expectClosed(p, `silent connection on ${target.listener}`, (target === proxied ? PROXY_HEADER_TIMEOUT_MS : 0) + INSPECT_TIMEOUT_MS + CLOSE_BOUND_MS);
      }
      case 'rst-mid-peek': {
        const p = await open(plain, kind, false);
        if (!p) return 'connect failed';
        const { bytes } = preambleFor(rng.pick(['tls', 'http', 'ssh'] as const));
        const cut = rng.int(1, Math.max(1, bytes.length - 2));
        for (const c of rng.split(bytes.subarray(0, cut), 64)) if (!(await p.write(c))) break;
        // Mostly after portplex accepted it (accepting can lag tens of ms under load), always before the deadline.
        await sleep(rng.chance(0.2) ? rng.int(0, 5) : rng.int(30, 200));
        p.socket.resetAndDestroy();
        return undefined;
      }
      case 'rst-mid-splice': {
        const p = await open(plain, kind, false);
        if (!p) return 'connect failed';
        const { bytes } = preambleFor(rng.pick(['tls', 'http', 'ssh'] as const));
        await p.write(bytes);
        const payload = payloadFor();
        for (const c of rng.split(payload.subarray(0, rng.int(0, payload.length)), 8192)) if (!(await p.write(c))) break;
        // Mostly mid-splice for sure: once the echo started coming back (or after 1 s), with unread
        // echo bytes and unsent payload on both sides; sometimes at once (while portplex connects).
        if (rng.chance(0.75)) {
          await p.until(() => p.bytesIn > 0 || p.gone, 1000);
          if (rng.chance(0.5)) await sleep(rng.int(0, 10));
        }
        if (!p.socket.destroyed) p.socket.resetAndDestroy();
        return undefined;
      }
      case 'slow-drip': {
        const p = await open(plain, kind, false);
        if (!p) return 'connect failed';
        const source = rng.chance(0.5) ? preambleFor('tls').bytes : garbageBytes(64);
        const n = rng.int(3, 30);
        for (let i = 0; i < n && !p.gone; i++) {
          await p.write(source.subarray(i, i + 1));
          await sleep(50);
        }
        if (!p.socket.destroyed) p.socket.resetAndDestroy();
        return undefined;
      }
      case 'oversized-tls': {
        const p = await open(plainTarget(), kind, false);
        if (!p) return 'connect failed';
        // A record of 65535 bytes holding a handshake message that claims 16 MiB.
        const head = Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0x03, 0x03]);
        const filler = rng.chance(0.5) ? rng.bytes(rng.int(0, 200)) : rng.bytes(rng.int(INSPECT_MAX_BYTES, INSPECT_MAX_BYTES + 8000));
        for (const c of rng.split(Buffer.concat([head, filler]), 4096)) if (!(await p.write(c))) break;
        return expectClosed(p, `TLS record claiming 16 MiB (+${filler.length} bytes)`);
      }
      case 'oversized-pp2': {
        const p = await open(proxied, kind, false);
        if (!p) return 'connect failed';
        // A v2 header announcing len 65535 from a trusted peer (max_bytes is 4096).
        const head = writeProxyHeader(2, '192.0.2.1', 1, '203.0.113.1', 443);
        head.writeUInt16BE(0xffff, 14);
        const filler = rng.bytes(rng.pick([0, 100, 3000, 6000]));
        for (const c of rng.split(Buffer.concat([head, filler]), 1024)) if (!(await p.write(c))) break;
        return expectClosed(p, `PROXY v2 claiming 65535 bytes (+${filler.length})`, PROXY_HEADER_TIMEOUT_MS + CLOSE_BOUND_MS);
      }
      case 'pp1-no-crlf': {
        const p = await open(proxied, kind, false);
        if (!p) return 'connect failed';
        const line = Buffer.from(`PROXY TCP4 192.0.2.1 203.0.113.1 1234 443${'x'.repeat(rng.pick([0, 50, 80, 500]))}`, 'latin1');
        for (const c of rng.split(line, 32)) if (!(await p.write(c))) break;
        return expectClosed(p, `PROXY v1 line without CRLF (${line.length} bytes)`, PROXY_HEADER_TIMEOUT_MS + CLOSE_BOUND_MS);
      }
      case 'forged-proxy': {
        const p = await open(plainTarget(), kind, false);
        if (!p) return 'connect failed';
        const h = writeProxyHeader(rng.chance(0.5) ? 1 : 2, '192.0.2.66', 1111, '203.0.113.1', 443);
        await p.write(Buffer.concat([h, preambleFor('http').bytes]));
        return expectClosed(p, 'PROXY header on a listener with accept off');
      }
      case 'flaky-backend': {
        const p = await open(plainTarget(), kind, false);
        if (!p) return 'connect failed';
        // The backend resets, or half-closes, after echoing 0-8 KiB; the client keeps sending 10-64 KiB meanwhile.
        await p.write(Buffer.from(`POST /upload HTTP/1.1\r\nHost: reset.test\r\nContent-Length: 65536\r\n\r\n`, 'latin1'));
        const body = rng.bytes(rng.int(10_000, 65_536));
        for (const c of rng.split(body, 4096)) {
          if (!(await p.write(c))) break;
          if (rng.chance(0.2)) await tick();
        }
        const gone = await p.until(() => p.gone, CLOSE_BOUND_MS);
        p.socket.destroy();
        return gone ? undefined : 'backend reset / FIN mid-splice: the client was not closed';
      }
      case 'idle': {
        // A proxied connection that goes quiet: portplex must close it after timeouts.idle.
        const p = await open(plainTarget(), kind, false);
        if (!p) return 'connect failed';
        const proto = rng.pick(['tls', 'http', 'ssh'] as const);
        const pre = preambleFor(proto).bytes;
        const extra = rng.bytes(rng.int(0, 3000));
        await p.write(Buffer.concat([pre, extra]));
        const echoed = await p.until(() => p.bytesIn >= pre.length + extra.length || p.gone, CLOSE_BOUND_MS);
        if (!echoed || p.bytesIn !== pre.length + extra.length) {
          p.socket.destroy();
          return `idle ${proto}: ${p.bytesIn} of ${pre.length + extra.length} bytes echoed before going quiet`;
        }
        const start = p.lastInAt;
        const gone = await p.until(() => p.gone, IDLE_MS + CLOSE_BOUND_MS);
        const ms = performance.now() - start;
        p.socket.destroy();
        if (!gone) return `idle ${proto}: still open ${Math.round(ms)} ms after going quiet (timeouts.idle ${IDLE_MS} ms)`;
        if (ms < IDLE_MS * 0.9) return `idle ${proto}: closed after ${Math.round(ms)} ms, before timeouts.idle (${IDLE_MS} ms)`;
        return undefined;
      }
      case 'dead-backend': {
        const p = await open(plainTarget(), kind, false);
        if (!p) return 'connect failed';
        await p.write(rng.chance(0.5) ? deadHello : Buffer.from('GET / HTTP/1.1\r\nHost: dead.test\r\n\r\n', 'latin1'));
        return expectClosed(p, 'route to a dead backend', 1000 + CLOSE_BOUND_MS);
      }
    }
  };

  const totalWeight = KINDS.reduce((n, k) => n + WEIGHTS[k], 0);
  const pickKind = (): Kind => {
    let x = rng.float() * totalWeight;
    for (const k of KINDS) {
      x -= WEIGHTS[k];
      if (x < 0) return k;
    }
    return 'tls';
  };

  let iterations = 0;
  const runLoad = async (ms: number): Promise<void> => {
    const stopAt = performance.now() + ms;
    const worker = async (): Promise<void> => {
      while (performance.now() < stopAt) {
        const kind = pickKind();
        byKind[kind].started++;
        iterations++;
        let problem: string | undefined;
        try {
          problem = await runKind(kind);
        } catch (e) {
          problem = `soak harness error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
        }
        if (problem === undefined) byKind[kind].ok++;
        else {
          byKind[kind].failed++;
          sample(`${kind}: ${problem}`);
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, () => worker()));
  };

  // ---- initial measurement, warm-up, baseline
  await sleep(100);
  const initial = measure();
  opts.onMeasured?.('initial');
  const tWarm = performance.now();
  if (warmupMs > 0) await runLoad(warmupMs);
  await sleep(Math.min(settleMs, 1000));
  headers.clear();
  const baseline = measure();
  opts.onMeasured?.('baseline');
  const afterWarmup = iterations;
  const warmupTook = performance.now() - tWarm;
  say(`baseline after ${Math.round(warmupTook)} ms warm-up (${afterWarmup} connections): fds ${baseline.fds}, heap ${(baseline.heapUsed / 1048576).toFixed(1)} MiB`);

  // ---- load
  const tLoad = performance.now();
  const progress = setInterval(() => {
    const l = running.runtime().limits.snapshot();
    const m = process.memoryUsage();
    say(`${Math.round((performance.now() - tLoad) / 1000)} s: ${iterations} connections, open ${l.open}, fds ${countFds()}, heap ${(m.heapUsed / 1048576).toFixed(1)} MiB, well-formed ${wf.ok}/${wf.total}, failures ${KINDS.reduce((n, k) => n + byKind[k].failed, 0)}`);
  }, 10_000);
  const loadDone = runLoad(opts.durationMs);
  await sleep(opts.durationMs);
  const loadMs = performance.now() - tLoad;
  await loadDone;
  clearInterval(progress);
  const drainMs = performance.now() - tLoad - loadMs;

  // ---- settle, then the final measurement
  const tSettle = performance.now();
  await sleep(settleMs);
  const settleDeadline = performance.now() + 5000;
  const waitingForLines = (): number => {
    let n = 0;
    for (const l of pending.values()) n += l.length;
    return n - anonymousCloseLines;
  };
  const busy = (): boolean => {
    const l = running.runtime().limits.snapshot();
    return l.open > 0 || l.inspectBufferBytes !== 0 || countFds() > baseline.fds + fdSlack || waitingForLines() > 0;
  };
  while (busy() && performance.now() < settleDeadline) await sleep(100);
  const unconsumedHeaders = headers.size;
  headers.clear();
  // The harness's own bookkeeping must not weigh on the heap figure: count what is left, then drop it.
  let pendingLeft = 0;
  const stuck: string[] = [];
  const stuckKinds: Kind[] = [];
  for (const [k, l] of pending) {
    pendingLeft += l.length;
    stuckKinds.push(...l.map((p) => p.kind));
    if (stuck.length < 10 && l.some((p) => !RESETTING.has(p.kind))) stuck.push(`${k}=${l.map((p) => p.kind).join(',')}`);
  }
  pending.clear();
  await tick();
  const final = measure();
  opts.onMeasured?.('final');
  const settled = performance.now() - tSettle;
  eld.disable();

  // ---- still serving?
  const aliveProblems: string[] = [];
  for (const proto of ['tls', 'http', 'ssh'] as const) {
    const before = { ...wf };
    const problem = await wellFormed(proto, plain, proto);
    if (problem !== undefined) aliveProblems.push(problem);
    Object.assign(wf, before);
  }
  // Let the alive probes' own close lines arrive.
  await sleep(200);
  for (const [k, l] of pending) {
    pendingLeft += l.length;
    stuckKinds.push(...l.map((p) => p.kind));
    if (stuck.length < 10) stuck.push(`alive probe ${k}=${l.map((p) => p.kind).join(',')}`);
  }
  let orphanLeft = 0;
  for (const l of orphanLines.values()) orphanLeft += l.length;

  const echoOpen = echoes.reduce((n, e) => n + e.sockets.size, 0);
  await running.close();
  await Promise.all(echoes.map((e) => e.close()));
  process.removeListener('uncaughtException', onException);
  process.removeListener('unhandledRejection', onRejection);

  // ---- checks
  const failed: string[] = [];
  const check = (ok: boolean, what: string): void => {
    if (!ok) failed.push(what);
  };
  check(uncaught.exceptions === 0 && uncaught.rejections === 0, `uncaught errors: ${uncaught.exceptions} exceptions, ${uncaught.rejections} rejections`);
  check(wf.ok + wf.slow === wf.total, `well-formed connections: ${wf.ok} of ${wf.total} ok, ${wf.slow} too slow for the inspect deadline (${wf.corrupted} corrupted, ${wf.incomplete} incomplete, ${wf.badHeader} bad header)`);
  check(wf.slow <= wf.total * 0.05, `${wf.slow} of ${wf.total} well-formed clients too slow for the inspect deadline: the machine is too loaded for this concurrency`);
  check(wf.corrupted === 0, `${wf.corrupted} well-formed connections got different bytes back`);
  const kindFailures = KINDS.filter((k) => byKind[k].failed > 0).map((k) => `${k} ${byKind[k].failed}`);
  check(kindFailures.length === 0, `client-side failures: ${kindFailures.join(', ')}`);
  const unexpected = KINDS.filter((k) => byKind[k].unexpectedReasons > 0).map((k) => `${k} ${byKind[k].unexpectedReasons}`);
  check(unexpected.length === 0, `unexpected close reasons: ${unexpected.join(', ')}`);
  check(Object.keys(connectErrors).length === 0, `client connect errors: ${JSON.stringify(connectErrors)}`);
  check(logStats.closeLines === connected, `close log lines ${logStats.closeLines} for ${connected} connected clients`);
  check(pendingLeft === anonymousCloseLines && stuckKinds.every((k) => RESETTING.has(k)), `${pendingLeft} connections without a matching close log line, ${anonymousCloseLines} lines without a client address (${stuck.join(' ')})`);
  check(orphanLeft === 0, `${orphanLeft} close log lines matching no client`);
  check((logStats.byLevel.error ?? 0) + (logStats.byLevel.fatal ?? 0) === 0, `error log lines: ${(logStats.byLevel.error ?? 0) + (logStats.byLevel.fatal ?? 0)}`);
  check(final.portplex.open === 0, `portplex open connections after settle: ${final.portplex.open}`);
  check(final.portplex.inspectBufferBytes === 0, `inspect buffer bytes after settle: ${final.portplex.inspectBufferBytes}`);
  check(final.portplex.trackedAddresses === 0, `tracked addresses after settle: ${final.portplex.trackedAddresses}`);
  check(Object.keys(final.portplex.refused).length === 0, `limit refusals: ${JSON.stringify(final.portplex.refused)}`);
  check(Object.values(final.backendsActive).every((n) => n === 0), `backend active counts after settle: ${JSON.stringify(final.backendsActive)}`);
  check(final.fds <= baseline.fds + fdSlack, `descriptors: ${final.fds} after, ${baseline.fds} baseline (slack ${fdSlack})`);
  check(final.heapUsed <= baseline.heapUsed + heapSlack, `heap: ${final.heapUsed} after, ${baseline.heapUsed} baseline (slack ${heapSlack})`);
  check(final.arrayBuffers <= baseline.arrayBuffers + heapSlack, `array buffers: ${final.arrayBuffers} after, ${baseline.arrayBuffers} baseline (slack ${heapSlack})`);
  const tcpBase = (baseline.handles.TCPSocketWrap ?? 0) + (baseline.handles.TCPServerWrap ?? 0);
  const tcpFinal = (final.handles.TCPSocketWrap ?? 0) + (final.handles.TCPServerWrap ?? 0);
  check(tcpFinal <= tcpBase, `TCP handles: ${tcpFinal} after, ${tcpBase} baseline`);
  check((final.handles.Timeout ?? 0) <= (baseline.handles.Timeout ?? 0) + 2, `timers: ${final.handles.Timeout ?? 0} after, ${baseline.handles.Timeout ?? 0} baseline`);
  check(JSON.stringify(Object.entries(localHeaders).sort()) === JSON.stringify(Object.entries(localSent).sort()), `LOCAL/UNKNOWN headers seen by the echo backends ${JSON.stringify(localHeaders)}, expected ${JSON.stringify(localSent)}`);
  check(echoStats.headerErrors === 0, `echo backends saw ${echoStats.headerErrors} bad PROXY headers`);
  check(echoOpen === 0, `echo backend sockets still open: ${echoOpen}`);
  check(aliveProblems.length === 0, `not serving after the soak: ${aliveProblems.join('; ')}`);

  const afterBaseline = iterations - afterWarmup;
  const q = (v: number): number => Math.round((v / 1e6) * 10) / 10;
  return {
    ok: failed.length === 0,
    failedChecks: failed,
    config: { durationMs: opts.durationMs, concurrency: opts.concurrency, seed: opts.seed, settleMs, warmupMs, inspectTimeoutMs: INSPECT_TIMEOUT_MS, ipv6, node: process.version },
    timing: { warmupMs: Math.round(warmupTook), loadMs: Math.round(loadMs), drainMs: Math.round(drainMs), settleMs: Math.round(settled), totalMs: Math.round(performance.now() - t0) },
    connections: { total: iterations, afterBaseline, perSecond: Math.round(afterBaseline / (loadMs / 1000)), byKind, clientConnectErrors: connectErrors },
    wellFormed: { ...wf, slowSamples: slowClients.samples },
    portplexLog: { ...logStats, unmatchedCloseLines: orphanLeft, anonymousCloseLines, connectionsWithoutCloseLine: pendingLeft },
    echoBackends: { accepted: echoStats.accepted, headerErrors: echoStats.headerErrors, localHeaders, openSockets: echoOpen, unconsumedHeaders },
    uncaught,
    eventLoopDelayMs: { p50: q(eld.percentile(50)), p99: q(eld.percentile(99)), max: q(eld.max) },
    resources: {
      initial,
      baseline,
      final,
      heapGrowthBytes: final.heapUsed - baseline.heapUsed,
      heapGrowthPerConnectionBytes: afterBaseline > 0 ? Math.round((final.heapUsed - baseline.heapUsed) / afterBaseline) : 0,
      fdGrowth: final.fds - baseline.fds,
    },
    alive: { ok: aliveProblems.length === 0, detail: aliveProblems.length === 0 ? 'tls, http and ssh echoed exactly after the settle' : aliveProblems.join('; ') },
    samples,
  };
}
