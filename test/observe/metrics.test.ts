/** PortplexMetrics: what a closed connection counts, gauges read from the sources at scrape time, and cluster aggregators. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { METRIC, PortplexMetrics } from '../../src/observe/metrics.js';
import { ADMIN_RULES, compileOrFail, record, snapshots, standardScene } from '../helpers/admin.js';

const rules = compileOrFail(ADMIN_RULES);

function line(text: string, re: RegExp): string {
  const found = text.split('\n').filter((l) => re.test(l));
  assert.equal(found.length, 1, `one line matching ${re} in:\n${text}`);
  return found[0]!;
}

describe('PortplexMetrics', () => {
  it('counts closed connections by listener, route, backend and outcome, and bytes by direction', async () => {
    const text = await standardScene(rules).registry.metrics();
    assert.match(text, /^portplex_connections_closed_total\{listener="main",route="https",backend="web",outcome="done"\} 3$/m);
    assert.match(text, /^portplex_connections_closed_total\{listener="main",route="default",backend="other",outcome="backend-unreachable"\} 1$/m);
    // No route and no backend: empty labels, never invented names.
    assert.match(text, /^portplex_connections_closed_total\{listener="main",route="",backend="",outcome="limit"\} 1$/m);
    assert.match(text, /^portplex_bytes_total\{listener="main",route="https",backend="web",direction="from_client"\} 1800$/m);
    assert.match(text, /^portplex_bytes_total\{listener="main",route="https",backend="web",direction="to_client"\} 6000$/m);
    assert.doesNotMatch(text, /direction="[a-z_]+"\} 0$/m, 'no zero byte series for connections that moved nothing');
  });

  it('observes decision time in seconds and peeked bytes only for connections that reached a decision', async () => {
    const text = await standardScene(rules).registry.metrics();
    assert.equal(line(text, /^portplex_route_decision_seconds_count\{listener="main"\}/), 'portplex_route_decision_seconds_count{listener="main"} 5');
    assert.equal(line(text, /^portplex_route_decision_seconds_bucket\{le="0.001",listener="main"\}/), 'portplex_route_decision_seconds_bucket{le="0.001",listener="main"} 3');
    assert.equal(line(text, /^portplex_route_decision_seconds_bucket\{le="2.5",listener="main"\}/), 'portplex_route_decision_seconds_bucket{le="2.5",listener="main"} 4');
    assert.equal(line(text, /^portplex_peeked_bytes_bucket\{le="1024",listener="main"\}/), 'portplex_peeked_bytes_bucket{le="1024",listener="main"} 5');
    assert.equal(line(text, /^portplex_peeked_bytes_sum\{listener="main"\}/), `portplex_peeked_bytes_sum{listener="main"} ${3 * 517 + 21 + 4}`);
    assert.equal(line(text, /^portplex_peeked_bytes_count\{listener="lb"\}/), 'portplex_peeked_bytes_count{listener="lb"} 1');
  });

  it('reads gauges and refusal counts from the sources at each scrape', async () => {
    const text = await standardScene(rules).registry.metrics();
    assert.match(text, /^portplex_open_connections\{listener="main"\} 2$/m);
    assert.match(text, /^portplex_server_up\{backend="web",server="127.0.0.1:4443",backup="false"\} 1$/m);
    assert.match(text, /^portplex_server_up\{backend="web",server="127.0.0.1:4444",backup="true"\} 0$/m);
    assert.match(text, /^portplex_server_up_workers\{backend="web",server="127.0.0.1:4444",backup="true"\} 0$/m);
    assert.match(text, /^portplex_server_active_connections\{backend="web",server="127.0.0.1:4443"\} 2$/m);
    assert.match(text, /^portplex_server_connect_failures_total\{backend="web",server="127.0.0.1:4444"\} 3$/m);
    assert.match(text, /^portplex_backend_servers_up\{backend="web"\} 1$/m);
    assert.match(text, /^portplex_backend_servers\{backend="web"\} 2$/m);
    assert.match(text, /^portplex_denials_total\{kind="limit",route="",reason="per-ip-rate"\} 1$/m);
    assert.match(text, /^portplex_denials_total\{kind="forward-proxy",route="tunnel",reason="port-not-allowed"\} 4$/m);
    assert.match(text, /^portplex_metrics_processes 1$/m);
    assert.match(text, /^portplex_udp_flow_events_total\{event="evicted"\} 2$/m);
    assert.match(text, /^portplex_udp_flow_events_total\{event="expired"\} 5$/m);
    assert.match(text, /^portplex_udp_flow_events_total\{event="migrated"\} 1$/m);
    assert.match(text, /^portplex_udp_datagrams_dropped_total\{reason="no-route"\} 3$/m);
    assert.match(text, /^portplex_udp_datagrams_dropped_total\{reason="per-ip-rate"\} 7$/m);
  });

  it('forgets servers and listeners the new sources no longer have (a reload), and keeps counters', async () => {
    const m = standardScene(rules);
    const smaller = compileOrFail(ADMIN_RULES.replace(', { address: "127.0.0.1:4444", backup: true }', ''));
    m.setSources({ backends: () => snapshots(smaller, new Set()), openByListener: () => new Map([['main', 0]]), limitRefusals: () => new Map(), denials: () => new Map() });
    const text = await m.registry.metrics();
    assert.doesNotMatch(text, /127\.0\.0\.1:4444/);
    assert.doesNotMatch(text, /^portplex_open_connections\{listener="lb"\}/m);
    assert.doesNotMatch(text, /^portplex_denials_total\{/m);
    assert.match(text, /^portplex_connections_closed_total\{listener="main",route="https",backend="web",outcome="done"\} 3$/m);
  });

  it('before any sources: counters only, no gauge series', async () => {
    const m = new PortplexMetrics();
    m.connectionClosed(record({ route: 'x', backend: 'y' }));
    const text = await m.registry.metrics();
    assert.match(text, /^portplex_connections_closed_total\{listener="main",route="x",backend="y",outcome="done"\} 1$/m);
    assert.doesNotMatch(text, /^portplex_server_up\{/m);
    assert.doesNotMatch(text, /^portplex_open_connections\{/m);
  });

  it('uses its own registry: two instances coexist and the global registry stays empty of portplex_', async () => {
    const a = new PortplexMetrics();
    const b = new PortplexMetrics();
    a.connectionClosed(record({}));
    assert.notEqual(a.registry, b.registry);
    assert.match(await a.registry.metrics(), /outcome="done"\} 1$/m);
    assert.doesNotMatch(await b.registry.metrics(), /outcome="done"\} 1$/m);
    assert.doesNotMatch(await globalRegistry.metrics(), /portplex_/);
  });

  it('names the cluster aggregator of every metric: sums, except server_up (min) and per-backend counts', async () => {
    const json = await standardScene(rules).registry.getMetricsAsJSON();
    const agg = Object.fromEntries(json.map((m) => [m.name, m.aggregator]));
    assert.deepEqual(agg, {
      [METRIC.connectionsClosed]: 'sum',
      [METRIC.bytes]: 'sum',
      [METRIC.decisionSeconds]: 'sum',
      [METRIC.peekedBytes]: 'sum',
      [METRIC.denials]: 'sum',
      [METRIC.openConnections]: 'sum',
      [METRIC.serverUp]: 'min',
      [METRIC.serverUpWorkers]: 'sum',
      [METRIC.serverActive]: 'sum',
      [METRIC.serverConnectFailures]: 'sum',
      [METRIC.backendServersUp]: 'min',
      [METRIC.backendServers]: 'max',
      [METRIC.processes]: 'sum',
      [METRIC.udpFlowEvents]: 'sum',
      [METRIC.udpDropped]: 'sum',
    });
  });

  it('label values come from the record and config only: a client cannot add series beyond them', async () => {
    // Every label of every series is one of the names the scene used or a fixed value.
    const json = await standardScene(rules).registry.getMetricsAsJSON();
    const allowed = new Set(['main', 'lb', 'https', 'ssh', 'default', 'web', 'other', 'tunnel', '', 'done', 'limit', 'backend-unreachable', 'from_client', 'to_client', 'true', 'false', 'limit', 'forward-proxy', 'per-ip-rate', 'port-not-allowed', '127.0.0.1:4443', '127.0.0.1:4444', '127.0.0.1:2222', '127.0.0.1:2323', 'evicted', 'expired', 'migrated', 'no-route']);
    for (const m of json) {
      for (const v of m.values) {
        for (const [k, x] of Object.entries(v.labels)) if (k !== 'le') assert.ok(allowed.has(String(x)), `${m.name} ${k}=${String(x)}`);
      }
    }
  });
});
