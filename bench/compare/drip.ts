/**
 * Slow drip: the CPU portplex spends on a connection whose 15 KB HTTP request head arrives one byte
 * per TCP segment (a slowloris client, or a broken one). Inspection work must be linear in the
 * bytes received (src/inspect/facts.ts): before the parsers resumed, every segment re-parsed the
 * head from its first byte, ~15 000 parses of up to 15 KB per connection.
 *
 *  - inspector: the inspector alone, in this process — a PeekBuffer, Facts and the bench's route
 *    table, 15 000 one-byte appends each followed by a routing decision, until it routes. CPU per
 *    connection after a warm-up: the steady figure. Also the parser's indexed reads per head byte
 *    (one pass through a counting view; untimed).
 *  - TCP: a portplex process (its CLI, --workers 0) in front of a backend in this process; each
 *    connection writes the head one byte per write with TCP_NODELAY, each write flushed and 50 µs
 *    after the previous one (so that portplex reads each segment on its own), then waits until the
 *    backend has every byte. portplex's CPU (from /proc, 10 ms ticks) per connection: this
 *    includes what the kernel and Node cost per segment.
 */
import type { DataplaneAsk } from './options.js';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compileRulesText } from '../../src/config/load.js';
import { Facts } from '../../src/inspect/facts.js';
import { PeekBuffer } from '../../src/inspect/peek-buffer.js';
import type { MatchContext } from '../../src/protocols/match-context.js';
import { RouteTable } from '../../src/router/route-table.js';
import { freePort } from '../../test/helpers/interop.js';
import { HTTP_BODY } from './configs.js';
import { treeCpuSeconds } from './procfs.js';
import type { Supervisor } from './procs.js';
import type { Budget } from './stack.js';
import { REPO_ROOT, waitUntilRouting } from './wire.js';

export interface DripResult {
  readonly headBytes: number;
  /** µs of CPU per connection through the inspector alone, one value per round. */
  readonly inspectorUs: number[];
  /** Indexed reads the parsers made per head byte over one whole delivery. */
  readonly readsPerByte: number;
  /** µs of portplex CPU per connection over TCP, one value per round (empty when not measured). */
  readonly tcpUs: number[];
}

const HEAD_BYTES = 15_000;

/** A 15 KB head: a request line, Host, and field lines of 60 bytes up to the size. */
export function dripHead(size = HEAD_BYTES): Buffer {
  let s = 'GET /slow HTTP/1.1\r\nHost: drip.test\r\n';
  for (let k = 0; s.length < size - 2 - 70; k++) s += `X-Drip-${String(k).padStart(5, '0')}: ${'d'.repeat(50)}\r\n`;
  s += `X-Last: ${'e'.repeat(size - 2 - s.length - 10)}\r\n`;
  return Buffer.from(`${s}\r\n`, 'latin1');
}

/** The routes the other figures use (configs.ts): TLS first, then HTTP. */
function routeTable(): RouteTable {
  const r = compileRulesText(
    'listeners: ["127.0.0.1:0"]\nbackends:\n  tls: { servers: ["127.0.0.1:1"] }\n  http: { servers: ["127.0.0.1:2"] }\nroutes:\n  - { name: tls, when: { protocol: tls }, to: tls }\n  - { name: http, when: { protocol: http }, to: http }\n',
    'drip.yaml',
  );
  if (!r.ok) throw new Error(r.issues.map((i) => i.message).join('; '));
  return new RouteTable(r.rules);
}

/** One connection's inspection, byte by byte; `view` may wrap the bytes (the counting pass). Returns the route. */
function inspectOnce(table: RouteTable, head: Buffer, view: (b: Uint8Array) => Uint8Array = (b) => b): string | undefined {
  const peek = new PeekBuffer();
  const facts = new Facts(16384);
  for (let i = 0; i < head.length; i++) {
    peek.append(head.subarray(i, i + 1));
    const bytes = view(peek.bytes);
    facts.update(bytes);
    const ctx: MatchContext = { bytes, final: false, elapsedMs: 0, srcAddress: '192.0.2.1', srcPort: 40000, localAddress: '127.0.0.1', localPort: 443, facts };
    const d = table.decide(ctx);
    if (d.kind === 'route') return d.route?.name;
  }
  return undefined;
}

function countingView(count: { reads: number }): (b: Uint8Array) => Uint8Array {
  return (bytes) =>
    new Proxy(bytes, {
      get(target, prop) {
        if (typeof prop === 'string' && prop.charCodeAt(0) >= 0x30 && prop.charCodeAt(0) <= 0x39) count.reads++;
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
      },
    });
}

function cpuUs(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

/** The inspector alone: `rounds` medians of `perRound` connections each, after `warmup` connections. */
function measureInspector(head: Buffer, o: { warmup: number; perRound: number; rounds: number }, failures: string[]): { us: number[]; readsPerByte: number } {
  const table = routeTable();
  const first = inspectOnce(table, head);
  if (first !== 'http') {
    failures.push(`slow drip: the ${head.length}-byte head was routed to ${first ?? 'nothing'}, not http`);
    return { us: [], readsPerByte: 0 };
  }
  for (let i = 0; i < o.warmup; i++) inspectOnce(table, head);
  const us: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const t0 = cpuUs();
    for (let i = 0; i < o.perRound; i++) if (inspectOnce(table, head) !== 'http') failures.push('slow drip: a head was not routed to http');
    us.push((cpuUs() - t0) / o.perRound);
  }
  const count = { reads: 0 };
  inspectOnce(table, head, countingView(count));
  return { us, readsPerByte: count.reads / head.length };
}

/**
 * Writes `head` one byte per write, each flushed, at least PACE_US apart (a busy wait in this
 * process, not in portplex's): slower than portplex takes to inspect a segment, even the old
 * quadratic code at 15 KB, so that it reads each segment on its own instead of several at once.
 */
async function drip(port: number, head: Buffer): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  let last = performance.now();
  for (let i = 0; i < head.length; i++) {
    while (performance.now() - last < PACE_US / 1000);
    last = performance.now();
    await new Promise<void>((resolve, reject) => socket.write(head.subarray(i, i + 1), (e) => (e ? reject(e) : resolve())));
  }
  return socket;
}

const PACE_US = 50;

/** portplex over TCP: CPU of its process per dripped connection, `rounds` rounds of `perRound` connections. */
async function measureTcp(sup: Supervisor, budget: Budget, head: Buffer, o: { perRound: number; rounds: number; dataplane: DataplaneAsk }, failures: string[]): Promise<number[]> {
  // The backend: answers a request once its whole head is in (what waitUntilRouting checks), and
  // reports how many bytes a dripped head arrived with.
  const arrived: ((n: number) => void)[] = [];
  const backend = createServer((s) => {
    const chunks: Buffer[] = [];
    let got = 0;
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      const all = chunks.length === 1 ? c : Buffer.concat(chunks);
      if (all.subarray(-4).toString('latin1') !== '\r\n\r\n') return;
      if (got >= head.length) arrived.shift()?.(got);
      s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${HTTP_BODY.length}\r\nConnection: close\r\n\r\n${HTTP_BODY}`);
    });
    s.on('error', () => undefined);
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  try {
    const dir = sup.tempDir('portplex-bench-drip-');
    const port = await freePort();
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      `# written by bench/compare (npm run bench -- --only drip)\nlisteners:\n  - bind: "127.0.0.1:${port}"\ninspect: { timeout: 60s }\nlog: { level: warn }\nlimits: { per_ip: { connections: 0, inspecting: 0, rate: 0 } }\nbackends:\n  http: { servers: ["127.0.0.1:${(backend.address() as AddressInfo).port}"] }\nroutes:\n  - { name: tls, when: { protocol: tls }, to: http }\n  - { name: http, when: { protocol: http }, to: http }\n`,
    );
    const proc = sup.start('portplex (slow drip)', process.execPath, [join(REPO_ROOT, 'dist/src/cli.js'), 'run', '--rules', rules, '--workers', '0', '--log-format', 'json', '--no-watch', '--drain-timeout', '1s', '--dataplane', o.dataplane, ...(process.getuid?.() === 0 ? ['--allow-root'] : [])], { lifetimeMs: budget.lifetimeMs });
    await waitUntilRouting(port, 20_000, () => (proc.exit() === undefined ? undefined : `portplex exited: ${proc.output()}`), ['http']);
    const one = async (): Promise<void> => {
      const done = new Promise<number>((r) => arrived.push(r));
      const s = await drip(port, head);
      const got = await done;
      if (got !== head.length) failures.push(`slow drip over TCP: the backend got ${got} bytes, not ${head.length}`);
      s.destroy();
    };
    await one(); // warm-up
    const us: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const c0 = treeCpuSeconds(proc.pid);
      for (let i = 0; i < o.perRound; i++) await one();
      us.push(((treeCpuSeconds(proc.pid) - c0) * 1e6) / o.perRound);
    }
    await sup.stop(proc);
    return us;
  } finally {
    await new Promise<void>((r) => backend.close(() => r()));
  }
}

export async function measureDrip(sup: Supervisor, budget: Budget, o: { quick: boolean; rounds: number; dataplane: DataplaneAsk; headBytes?: number }, failures: string[]): Promise<DripResult> {
  const head = dripHead(o.headBytes);
  const inspector = measureInspector(head, { warmup: o.quick ? 3 : 10, perRound: o.quick ? 3 : 10, rounds: o.rounds }, failures);
  const tcpUs = await measureTcp(sup, budget, head, { perRound: o.quick ? 1 : 2, rounds: o.rounds, dataplane: o.dataplane }, failures);
  return { headBytes: head.length, inspectorUs: inspector.us, readsPerByte: inspector.readsPerByte, tcpUs };
}
