/**
 * Shared pieces for the admin endpoint tests: a compiled rule file, backend snapshots with chosen
 * servers down, connection records, an AdminSource over a real PortplexMetrics, and raw
 * exchanges with a running endpoint (bytes in, everything it answered until it closed).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Registry } from 'prom-client';
import type { BackendSnapshot } from '../../src/observe/snapshots.js';
import { compileRulesText } from '../../src/config/load.js';
import type { RulesConfig } from '../../src/config/types.js';
import type { ConnectionRecord } from '../../src/observe/connection-record.js';
import { PortplexMetrics } from '../../src/observe/metrics.js';
import type { AdminSource, AdminState } from '../../src/admin/state.js';
import { withTimeout } from './interop.js';

export const ADMIN_RULES = `listeners:
  - name: main
    bind: "127.0.0.1:0"
  - name: lb
    bind: "127.0.0.1:0"
    proxy_protocol: { accept: optional, trusted: ["10.0.0.0/8"] }
admin: { listen: "127.0.0.1:0", status_refresh: 7s }
backends:
  web:
    balance: leastconn
    servers: ["127.0.0.1:4443", { address: "127.0.0.1:4444", backup: true }]
    health: { type: tcp, interval: 2s }
  ssh: { servers: ["127.0.0.1:2222"] }
  other: { servers: ["127.0.0.1:2323"], passive: false }
routes:
  - name: https
    when: { tls: { sni: ["demo.test", "*.demo.test"] } }
    to: web
  - name: ssh
    when: { protocol: ssh }
    to: ssh
  - name: tunnel
    when: { http: { method: CONNECT } }
    connect: { ports: [443, "8000-8100"] }
default: other
`;

export function compileOrFail(text: string, file = 'admin-test.yaml'): RulesConfig {
  const r = compileRulesText(text, file);
  assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
  return r.rules;
}

/** Every backend of `rules` as the pools would report it, with the servers in `down` ("backend address") down. */
export function snapshots(rules: RulesConfig, down: ReadonlySet<string>, active: ReadonlyMap<string, number> = new Map()): BackendSnapshot[] {
  return [...rules.backends.values()].map((b) => {
    const servers = b.servers.map((s) => {
      const isDown = down.has(`${b.name} ${s.address}`);
      return {
        address: s.address,
        backup: s.backup,
        weight: s.weight,
        status: isDown ? ('down' as const) : ('up' as const),
        reason: isDown ? 'check failed 3x: ECONNREFUSED' : undefined,
        active: active.get(`${b.name} ${s.address}`) ?? 0,
        total: 0,
        failedConnects: isDown ? 3 : 0,
        lastCheck: undefined,
        lastChange: 0,
      };
    });
    return { name: b.name, balance: b.balance, up: servers.filter((s) => s.status === 'up').length, servers };
  });
}

export function record(over: Partial<ConnectionRecord>): ConnectionRecord {
  return { listener: 'main', route: undefined, backend: undefined, server: undefined, reason: 'done', bytesFromClient: 0, bytesToClient: 0, decideMs: undefined, peeked: 0, ...over };
}

export function adminState(rules: RulesConfig, over: Partial<AdminState> = {}): AdminState {
  return {
    rules,
    rulesSource: 'rules/admin-test.yaml',
    rulesLoadedAt: new Date('2026-11-22T20:00:00.000Z'),
    reloads: { ok: 0, failed: 0, lastError: undefined, lastAt: undefined },
    workers: { wanted: 1, listening: 1, restarts: 0 },
    listenersBound: true,
    draining: false,
    dataplane: 'native',
    ...over,
  };
}

/** An AdminSource over a real PortplexMetrics (the single-process case); `state` may be changed by the test. */
export function metricsSource(metrics: PortplexMetrics, state: () => AdminState): AdminSource {
  return { metrics: (): Promise<Registry> => Promise.resolve(metrics.registry), state };
}

/**
 * The standard scene: https took 3 connections, ssh 1, the default backend 2, one was refused by
 * a limit before routing; web's backup 127.0.0.1:4444 is down; 2 open on "main".
 */
export function standardScene(rules: RulesConfig): PortplexMetrics {
  const m = new PortplexMetrics();
  for (let i = 0; i < 3; i++) m.connectionClosed(record({ route: 'https', backend: 'web', server: '127.0.0.1:4443', bytesFromClient: 600, bytesToClient: 2000, decideMs: 0.7, peeked: 517 }));
  m.connectionClosed(record({ route: 'ssh', backend: 'ssh', server: '127.0.0.1:2222', bytesFromClient: 40, bytesToClient: 30, decideMs: 1.5, peeked: 21 }));
  m.connectionClosed(record({ route: 'default', backend: 'other', reason: 'backend-unreachable', decideMs: 3000, peeked: 4 }));
  m.connectionClosed(record({ listener: 'lb', route: undefined, backend: 'other', server: '127.0.0.1:2323', decideMs: 3000, peeked: 0 }));
  m.connectionClosed(record({ reason: 'limit' }));
  m.setSources({
    backends: () => snapshots(rules, new Set(['web 127.0.0.1:4444']), new Map([['web 127.0.0.1:4443', 2]])),
    openByListener: () => new Map([['main', 2], ['lb', 0]]),
    limitRefusals: () => new Map([['per-ip-rate', 1]]),
    denials: () => new Map([['tunnel/port-not-allowed', 4]]),
    udp: () => ({ evicted: 2, expired: 5, migrated: 1, dropped: new Map([['no-route', 3], ['per-ip-rate', 7]]) }),
  });
  return m;
}

/**
 * Writes raw bytes to the admin endpoint (then half-closes) and returns everything it sent back
 * until it closed, as latin1; a reset counts as a close (what came before it is kept).
 */
export function rawExchange(port: number, request: Uint8Array | string, timeoutMs = 10_000): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve) => {
      const c = connect({ host: '127.0.0.1', port });
      const chunks: Buffer[] = [];
      c.on('data', (d: Buffer) => chunks.push(d));
      c.on('error', () => c.destroy());
      c.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      c.end(typeof request === 'string' ? Buffer.from(request, 'latin1') : request);
    }),
    timeoutMs,
    'the admin endpoint to answer and close',
  );
}

/** The status code of the first status line of an answer (after any 100 Continue), or undefined for none. */
export function firstStatus(answer: string): number | undefined {
  const lines = [...answer.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]));
  return lines.find((s) => s >= 200) ?? lines[0];
}
