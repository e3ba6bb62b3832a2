/** buildStatusView: the running rules joined with the metrics, as plain data; and the `when` summaries. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry } from 'prom-client';
import { buildStatusView } from '../../src/admin/status-view.js';
import { summarizeCondition, SUMMARY_MAX } from '../../src/admin/condition-summary.js';
import { readiness } from '../../src/admin/state.js';
import { PortplexMetrics } from '../../src/observe/metrics.js';
import { ADMIN_RULES, adminState, compileOrFail, record, snapshots, standardScene } from '../helpers/admin.js';

const rules = compileOrFail(ADMIN_RULES);

describe('buildStatusView', () => {
  it('lists listeners, routes in order with actions, summaries and hits, the default backend and unrouted closes', async () => {
    const v = buildStatusView(adminState(rules), await standardScene(rules).registry.getMetricsAsJSON(), new Date('2026-11-22T21:00:00Z'));
    assert.equal(v.generatedAt, '2026-11-22T21:00:00.000Z');
    assert.equal(v.refreshSeconds, 7);
    assert.deepEqual(v.listeners, [
      { name: 'main', address: '127.0.0.1:0', proxyProtocol: 'off', open: 2 },
      { name: 'lb', address: '127.0.0.1:0', proxyProtocol: 'optional', open: 0 },
    ]);
    assert.deepEqual(v.routes, [
      { position: 1, name: 'https', action: 'backend', target: 'web', when: 'SNI demo.test, *.demo.test', hits: 3 },
      { position: 2, name: 'ssh', action: 'backend', target: 'ssh', when: 'protocol ssh', hits: 1 },
      { position: 3, name: 'tunnel', action: 'connect', target: 'CONNECT tunnels to port 443, 8000-8100', when: 'method CONNECT', hits: 0 },
    ]);
    // One labelled "default", one with an empty route but a backend: both are the default backend's.
    assert.deepEqual(v.defaultBackend, { name: 'other', hits: 2 });
    assert.equal(v.unrouted, 1);
    assert.deepEqual(v.denials, [
      { kind: 'limit', route: '', reason: 'per-ip-rate', count: 1 },
      { kind: 'forward-proxy', route: 'tunnel', reason: 'port-not-allowed', count: 4 },
    ]);
  });

  it('shows each backend with its balance and checks, and each server up or down with active connections', async () => {
    const v = buildStatusView(adminState(rules), await standardScene(rules).registry.getMetricsAsJSON());
    assert.deepEqual(
      v.backends.map((b) => [b.name, b.balance, b.checks, b.serversUp]),
      [
        ['web', 'leastconn', 'tcp check every 2s', 1],
        ['ssh', 'roundrobin', 'passive only', 1],
        ['other', 'roundrobin', 'no checks', 1],
      ],
    );
    assert.deepEqual(v.backends[0]!.servers, [
      { address: '127.0.0.1:4443', backup: false, weight: 1, state: 'up', upWorkers: 1, workers: 1, active: 2 },
      { address: '127.0.0.1:4444', backup: true, weight: 1, state: 'down', upWorkers: 0, workers: 1, active: 0 },
    ]);
  });

  it('reports "up in k of N workers" from aggregated worker metrics, down when any worker has it down', async () => {
    const worker = async (down: boolean): Promise<Awaited<ReturnType<PortplexMetrics['registry']['getMetricsAsJSON']>>> => {
      const m = new PortplexMetrics();
      m.setSources({ backends: () => snapshots(rules, new Set(down ? ['web 127.0.0.1:4443'] : [])), openByListener: () => new Map(), limitRefusals: () => new Map(), denials: () => new Map() });
      return m.registry.getMetricsAsJSON();
    };
    const aggregated = AggregatorRegistry.aggregate([await worker(false), await worker(true), await worker(false)]);
    const v = buildStatusView(adminState(rules, { workers: { wanted: 3, listening: 3, restarts: 1 } }), await aggregated.getMetricsAsJSON());
    assert.deepEqual(v.workers, { wanted: 3, listening: 3, restarts: 1, reporting: 3 });
    const s = v.backends[0]!.servers[0]!;
    assert.deepEqual([s.state, s.upWorkers, s.workers], ['down', 2, 3]);
    assert.deepEqual([v.backends[1]!.servers[0]!.state, v.backends[1]!.servers[0]!.upWorkers], ['up', 3]);
  });

  it('says "unknown" for servers no worker reported, with no metrics at all', () => {
    const v = buildStatusView(adminState(rules), []);
    assert.deepEqual(v.backends[0]!.servers.map((s) => s.state), ['unknown', 'unknown']);
    assert.equal(v.workers.reporting, 0);
    assert.deepEqual(v.routes.map((r) => r.hits), [0, 0, 0]);
  });

  it('reports the last reload: none, ok, or failed with its error; and the rules source, load time and warnings', () => {
    const none = buildStatusView(adminState(rules), []);
    assert.equal(none.reload.result, 'none');
    assert.deepEqual(none.rules.source, 'rules/admin-test.yaml');
    assert.equal(none.rules.loadedAt, '2026-11-22T20:00:00.000Z');
    assert.equal(none.rules.warnings.length, 1, 'the mixed PROXY listeners warning');
    assert.match(none.rules.warnings[0]!, /^admin-test\.yaml:3:11: listener "main" does not accept PROXY headers/);
    const at = new Date('2026-11-22T20:30:00Z');
    const ok = buildStatusView(adminState(rules, { reloads: { ok: 2, failed: 1, lastError: undefined, lastAt: at } }), []);
    assert.deepEqual(ok.reload, { result: 'ok', ok: 2, failed: 1, lastAt: '2026-11-22T20:30:00.000Z', lastError: undefined });
    const failed = buildStatusView(adminState(rules, { reloads: { ok: 2, failed: 2, lastError: 'x.yaml:3:1: PORTPLEX_ERR_RULES_YAML: bad', lastAt: at } }), []);
    assert.equal(failed.reload.result, 'failed');
    assert.equal(failed.reload.lastError, 'x.yaml:3:1: PORTPLEX_ERR_RULES_YAML: bad');
  });

  it('cannot tell default-backend hits from a route named "default", and says so', async () => {
    const named = compileOrFail('listeners: ["127.0.0.1:0"]\nbackends: { b: { servers: ["127.0.0.1:1"] } }\nroutes: [{ name: default, when: { protocol: ssh }, to: b }]\ndefault: b\n');
    const m = new PortplexMetrics();
    m.connectionClosed(record({ route: 'default', backend: 'b' }));
    const v = buildStatusView(adminState(named), await m.registry.getMetricsAsJSON());
    assert.deepEqual(v.defaultBackend, { name: 'b', hits: undefined });
    assert.equal(v.routes[0]!.hits, 1);
  });

  it('readiness: listeners bound, not draining, a worker listening; each missing one is a reason', () => {
    assert.deepEqual(readiness(adminState(rules)), { ready: true, reasons: [] });
    const r = readiness(adminState(rules, { listenersBound: false, draining: true, workers: { wanted: 4, listening: 0, restarts: 0 } }));
    assert.equal(r.ready, false);
    assert.deepEqual(r.reasons, ['listeners are not bound', 'draining: shutting down, not accepting new connections', 'no worker is listening (0 of 4 wanted)']);
    const v = buildStatusView(adminState(rules, { draining: true }), []);
    assert.deepEqual([v.ready, v.notReadyReasons.length], [false, 1]);
  });
});

describe('summarizeCondition', () => {
  const when = (w: string): string => {
    const r = compileOrFail(`listeners: ["127.0.0.1:0"]\nbackends: { b: { servers: ["127.0.0.1:1"] } }\nroutes: [{ name: r, when: ${w}, to: b }]\n`);
    return summarizeCondition(r.routes[0]!.when);
  };
  it('names what the admin wrote, dropping the protocol a tls:/http: key implies', () => {
    assert.equal(when('{}'), 'every connection');
    assert.equal(when('{ protocol: [tls, http] }'), 'protocol tls or http');
    assert.equal(when('{ tls: { sni: [a.test, "*.b.test", "~^c[0-9]+$"], alpn: [h2] } }'), 'SNI a.test, *.b.test, ~^c[0-9]+$ and ALPN h2');
    assert.equal(when('{ tls: { version: "1.2..1.3" } }'), 'TLS 1.2..1.3');
    assert.equal(when('{ tls: { version: "1.2.." } }'), 'TLS 1.2..');
    assert.equal(when('{ tls: {} }'), 'protocol tls');
    assert.equal(when('{ http: { host: example.com, method: [GET, POST] } }'), 'Host example.com and method GET, POST');
    assert.equal(when('{ bytes: { length: "4..64", prefix: ["16 03", "0000"] } }'), '4..64 bytes and bytes start 16 03 | 00 00');
    assert.equal(when('{ src: ["10.0.0.0/8", "::1"], local_port: [443, "8000-8100"] }'), 'src 10.0.0.0/8, ::1 and port 443, 8000-8100');
    assert.equal(when('{ silent: 500ms }'), 'silent 500ms');
    assert.equal(when('{ bytes: { regex: "^a/b" } }'), 'bytes ~^a/b');
    assert.equal(when('{ not: { src: "10.0.0.0/8" } }'), 'not (src 10.0.0.0/8)');
    assert.equal(when('{ any: [{ protocol: ssh }, { postgres: { user: [alice] } }] }'), 'any of (protocol ssh | Postgres user alice)');
  });
  it('cuts long summaries', () => {
    const many = Array.from({ length: 40 }, (_, i) => `host${i}.example.com`).join(', ');
    const s = when(`{ tls: { sni: [${many}] } }`);
    assert.equal(s.length, SUMMARY_MAX);
    assert.ok(s.endsWith('…'));
  });
});
