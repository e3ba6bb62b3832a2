/**
 * The close line of both transports, without sockets: the close reasons are one vocabulary that the
 * README's table and the metrics' `outcome` label follow, and the line builder writes the fields,
 * levels and flood summaries the README promises, with client text escaped.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import {
  CLOSE_REASONS,
  TCP_CLOSE_REASONS,
  UDP_CLOSE_REASONS,
  UDP_FLOW_CLOSE_REASONS,
  UDP_TABLE_CLOSE_REASONS,
  clientFields,
  closeFields,
  reasonPolicy,
  writeCloseLine,
  type CloseLog,
  type CloseReason,
  type CloseSummary,
  type TcpCloseRecord,
  type TcpCloseReason,
  type Transport,
  type UdpCloseRecord,
  type UdpCloseReason,
} from '../../src/observe/close-line.js';
import { summarizeClient, helloFacts, type KnownFacts } from '../../src/observe/close-captures.js';
import type { ConnectionRecord } from '../../src/observe/connection-record.js';
import type { CloseReason as SpliceCloseReason } from '../../src/proxy/splice.js';
import type { FlowEndReason } from '../../src/udp/flow-table.js';
import { LogSummary, SUMMARY_BURST, SUMMARY_MESSAGE, type SummaryClock } from '../../src/observe/log-summary.js';
import { createLogger } from '../../src/observe/logger.js';
import { PortplexMetrics } from '../../src/observe/metrics.js';
import { record } from '../helpers/admin.js';
import { readmeCloseReasons } from './close-reasons-readme.js';

// Compile-time: the metrics record, the splice and the flow table speak exactly this vocabulary.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const recordTakesTheUnion: Equal<ConnectionRecord['reason'], CloseReason> = true;
const spliceReasonsAreTcp: SpliceCloseReason extends TcpCloseReason ? true : false = true;
const tableReasonsAreUdp: Equal<Exclude<FlowEndReason, 'ended'>, (typeof UDP_TABLE_CLOSE_REASONS)[number]> = true;
void [recordTakesTheUnion, spliceReasonsAreTcp, tableReasonsAreUdp];

const TRANSPORTS: readonly Transport[] = ['tcp', 'udp'];
const reasonsOf = (t: Transport): readonly CloseReason[] => (t === 'tcp' ? TCP_CLOSE_REASONS : UDP_CLOSE_REASONS);

describe('close reasons: one vocabulary', () => {
  it('the union is the TCP and the UDP reasons, each once, and UDP is the table\'s and the flow\'s own', () => {
    assert.deepEqual([...CLOSE_REASONS].sort(), [...new Set([...TCP_CLOSE_REASONS, ...UDP_CLOSE_REASONS])].sort());
    assert.equal(new Set(TCP_CLOSE_REASONS).size, TCP_CLOSE_REASONS.length);
    assert.equal(new Set(UDP_CLOSE_REASONS).size, UDP_CLOSE_REASONS.length);
    assert.deepEqual([...UDP_CLOSE_REASONS], [...UDP_TABLE_CLOSE_REASONS, ...UDP_FLOW_CLOSE_REASONS]);
  });

  it('TCP and UDP say backend-unreachable for a backend none of whose servers could be used', () => {
    assert.ok((TCP_CLOSE_REASONS as readonly string[]).includes('backend-unreachable'));
    assert.ok((UDP_CLOSE_REASONS as readonly string[]).includes('backend-unreachable'));
    assert.ok(!(CLOSE_REASONS as readonly string[]).includes('backend-unavailable'));
  });

  it('README: the table of close reasons lists exactly the reasons of each transport, with their level and summarising', () => {
    const rows = readmeCloseReasons();
    for (const t of TRANSPORTS) {
      const documented = rows.filter((r) => r.transports.includes(t));
      assert.deepEqual(documented.map((r) => r.reason).sort(), [...reasonsOf(t)].sort(), `${t} reasons`);
      for (const row of documented) {
        const policy = reasonPolicy(t, row.reason as CloseReason);
        assert.ok(policy, `${row.reason} is a ${t} reason`);
        assert.equal(row.level, policy.level, `${t} ${row.reason}: level`);
        assert.equal(row.summarised, policy.summarised ? 'yes' : 'no', `${t} ${row.reason}: summarised`);
        assert.ok(row.meaning.length > 0, `${t} ${row.reason}: a meaning`);
      }
    }
    assert.deepEqual(rows.flatMap((r) => r.transports).filter((t) => !TRANSPORTS.includes(t as Transport)), [], 'transports are TCP or UDP');
    const pairs = rows.flatMap((r) => r.transports.map((t) => `${t} ${r.reason}`));
    assert.equal(new Set(pairs).size, pairs.length, 'a reason is listed once per transport');
  });

  it('metrics: the outcome label values are the close reasons, each passed through as it is', async () => {
    const m = new PortplexMetrics();
    for (const reason of CLOSE_REASONS) m.connectionClosed(record({ reason }));
    const closed = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'portplex_connections_closed_total');
    assert.ok(closed);
    const outcomes = closed.values.map((v) => String(v.labels['outcome']));
    assert.deepEqual(outcomes.sort(), [...CLOSE_REASONS].sort());
    assert.deepEqual([...new Set(readmeCloseReasons().map((r) => r.reason))].sort(), [...CLOSE_REASONS].sort(), 'README and metrics agree');
    for (const v of closed.values) assert.equal(v.value, 1);
  });
});

interface Written {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

const LEVELS = ['debug', 'info', 'warn'];

/** A logger that keeps what it is given, at a threshold. */
function fakeLog(threshold: 'debug' | 'info' | 'warn'): CloseLog & { lines: Written[] } {
  const lines: Written[] = [];
  const at = (level: string) => (fields: object, message: string) => {
    lines.push({ level, fields: fields as Record<string, unknown>, message });
  };
  return {
    lines,
    isLevelEnabled: (level) => LEVELS.indexOf(level) >= LEVELS.indexOf(threshold),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
  };
}

/** A summary that admits `budget` lines and records what it was asked. */
function fakeSummary(budget = Infinity): CloseSummary & { asked: unknown[][] } {
  const asked: unknown[][] = [];
  let left = budget;
  return {
    asked,
    admit(...args) {
      asked.push(args);
      return left-- > 0;
    },
  };
}

function tcpRecord(over: Partial<TcpCloseRecord> = {}): TcpCloseRecord {
  return {
    transport: 'tcp',
    id: 'k3-1f',
    listener: 'main',
    client: { address: '203.0.113.7', port: 50123 },
    peer: { address: '10.0.0.2', port: 40000 },
    proxyHeader: undefined,
    route: 'https',
    backend: 'web',
    server: '127.0.0.1:8443',
    target: undefined,
    clientFields: () => ({}),
    uniqueId: undefined,
    peeked: 517,
    bytes: { fromClient: 600, toClient: 2000 },
    ms: { decide: 0.12345, total: 12.3456 },
    connectMs: 1.005,
    reason: 'done',
    detail: undefined,
    failures: undefined,
    ...over,
  };
}

function udpRecord(over: Partial<UdpCloseRecord> = {}): UdpCloseRecord {
  return {
    transport: 'udp',
    id: 'k3-u2',
    listener: 'quic',
    client: { address: '198.51.100.9', port: 4433 },
    route: 'h3',
    backend: 'h3',
    server: '127.0.0.1:9443',
    protocol: 'quic',
    clientFields: () => clientFields({ sni: 'example.com', alpn: ['h3'], version: '1.3' }, undefined, {}),
    uniqueId: undefined,
    peeked: 1200,
    datagrams: { fromClient: 3, toClient: 5, dropped: 0 },
    bytes: { fromClient: 3600, toClient: 6000 },
    ms: { decide: 0.5, total: 30_000.004 },
    reason: 'idle-timeout',
    detail: undefined,
    ...over,
  };
}

/** The line as JSON shows it: pino leaves undefined fields out. */
function asJson(r: TcpCloseRecord | UdpCloseRecord): Record<string, unknown> {
  return JSON.parse(JSON.stringify(closeFields(r))) as Record<string, unknown>;
}

describe('close line: fields', () => {
  it('TCP: the README fields in their order, with peer and proxy_header only behind a PROXY header', () => {
    const line = asJson(
      tcpRecord({
        proxyHeader: 'v2',
        target: 'internal.example:22',
        clientFields: () => clientFields({ sni: 'a.example', alpn: ['h2', 'http/1.1'], version: '1.3' }, 'a.example', {}),
        uniqueId: Uint8Array.from([0xde, 0xad, 0xbe, 0xef]),
        reason: 'backend-unreachable',
        detail: 'PORTPLEX_ERR_BACKEND_UNREACHABLE',
        failures: ['127.0.0.1:8443 ECONNREFUSED'],
      }),
    );
    assert.deepEqual(Object.keys(line), ['id', 'listener', 'client', 'peer', 'proxy_header', 'route', 'backend', 'server', 'target', 'sni', 'alpn', 'tls_version', 'http_host', 'unique_id', 'peeked', 'bytes', 'ms', 'reason', 'detail', 'failures']);
    assert.deepEqual(line['client'], { address: '203.0.113.7', port: 50123 });
    assert.deepEqual(line['peer'], { address: '10.0.0.2', port: 40000 });
    assert.equal(line['proxy_header'], 'v2');
    assert.equal(line['unique_id'], 'deadbeef');
    assert.deepEqual(line['alpn'], ['h2', 'http/1.1']);
    assert.deepEqual(line['bytes'], { from_client: 600, to_client: 2000 });
    assert.deepEqual(line['ms'], { decide: 0.12, connect: 1, total: 12.35 });
    assert.deepEqual(line['failures'], ['127.0.0.1:8443 ECONNREFUSED']);
  });

  it('TCP: no header, no peer; a refused header still names the peer that sent it', () => {
    assert.equal(asJson(tcpRecord())['peer'], undefined);
    assert.deepEqual(Object.keys(asJson(tcpRecord())), ['id', 'listener', 'client', 'route', 'backend', 'server', 'peeked', 'bytes', 'ms', 'reason']);
    assert.deepEqual(asJson(tcpRecord({ reason: 'proxy-refused' }))['peer'], { address: '10.0.0.2', port: 40000 });
    assert.equal(asJson(tcpRecord({ reason: 'proxy-refused' }))['proxy_header'], undefined);
  });

  it('UDP: transport, protocol and datagrams, and no TCP-only field', () => {
    const line = asJson(udpRecord({ uniqueId: Uint8Array.from([1, 2]), reason: 'backend-unreachable', detail: 'h3: no server available' }));
    assert.deepEqual(Object.keys(line), ['id', 'listener', 'transport', 'client', 'route', 'backend', 'server', 'protocol', 'sni', 'alpn', 'tls_version', 'unique_id', 'peeked', 'datagrams', 'bytes', 'ms', 'reason', 'detail']);
    assert.equal(line['transport'], 'udp');
    assert.deepEqual(line['datagrams'], { from_client: 3, to_client: 5, dropped: 0 });
    assert.deepEqual(line['ms'], { decide: 0.5, total: 30000 });
    assert.equal(line['unique_id'], '0102');
    assert.equal(line['reason'], 'backend-unreachable');
  });

  it('escapes client text: ALPN, Host, a tunnel target and the protocol captures', () => {
    const facts: KnownFacts = {
      known<T>(key: string): T | undefined {
        const values: Record<string, unknown> = {
          tls: { sslv2: false, version: 0x0303, sni: 'ok.example', alpn: ['h2\u0000evil', 'x\\y'] },
          http: { host: 'h\u00e9te\n' },
          xmpp: { to: 'chat\u0007.example' },
          rdp: { cookie: 'mstshash=\u00ff' },
          postgres: { kind: 'startup', user: 'u\r\n', database: 'd'.repeat(300) },
        };
        return values[key] as T | undefined;
      },
    };
    const line = asJson(tcpRecord({ target: 'evil\u001b[31m:443', clientFields: () => summarizeClient(facts) }));
    assert.deepEqual(line['alpn'], ['h2\\x00evil', 'x\\\\y']);
    assert.equal(line['tls_version'], '1.2');
    assert.equal(line['http_host'], 'h\\xe9te\\x0a');
    assert.equal(line['target'], 'evil\\x1b[31m:443');
    assert.equal(line['xmpp_to'], 'chat\\x07.example');
    assert.equal(line['rdp_cookie'], 'mstshash=\\xff');
    assert.equal(line['pg_kind'], 'startup');
    assert.equal(line['pg_user'], 'u\\x0d\\x0a');
    assert.equal(line['pg_database'], 'd'.repeat(256) + '...');
    const keys = Object.keys(line);
    assert.deepEqual(keys.slice(keys.indexOf('target'), keys.indexOf('peeked')), ['target', 'sni', 'alpn', 'tls_version', 'http_host', 'xmpp_to', 'rdp_cookie', 'pg_kind', 'pg_user', 'pg_database']);
  });

  it('no captures when no capturing protocol was parsed, and no hello fields without a hello', () => {
    const none: KnownFacts = { known: () => undefined };
    assert.deepEqual(JSON.parse(JSON.stringify(summarizeClient(none))), {});
    assert.equal(helloFacts(undefined), undefined);
  });
});

describe('close line: levels and flood summaries', () => {
  const all: { transport: Transport; reason: CloseReason }[] = [
    ...TCP_CLOSE_REASONS.map((reason) => ({ transport: 'tcp' as const, reason })),
    ...UDP_CLOSE_REASONS.map((reason) => ({ transport: 'udp' as const, reason })),
  ];
  const recordOf = (transport: Transport, reason: CloseReason) =>
    transport === 'tcp' ? tcpRecord({ reason: reason as TcpCloseReason }) : udpRecord({ reason: reason as UdpCloseReason });

  it('each reason is written at its level, with its transport\'s message', () => {
    for (const { transport, reason } of all) {
      const log = fakeLog('debug');
      writeCloseLine(log, fakeSummary(), recordOf(transport, reason));
      assert.equal(log.lines.length, 1, `${transport} ${reason}`);
      assert.equal(log.lines[0]!.level, reasonPolicy(transport, reason)!.level, `${transport} ${reason}`);
      assert.equal(log.lines[0]!.message, transport === 'tcp' ? 'connection closed' : 'flow closed');
      assert.equal(log.lines[0]!.fields['reason'], reason);
    }
  });

  it('levels as today: TCP warns on refusals, UDP also on a failed server socket; limit is debug', () => {
    const warned = (t: Transport): string[] => reasonsOf(t).filter((r) => reasonPolicy(t, r)!.level === 'warn').sort();
    assert.deepEqual(warned('tcp'), ['backend-unreachable', 'no-route', 'no-sni', 'proxy-header-error', 'proxy-refused', 'tunnel-denied', 'tunnel-failed']);
    assert.deepEqual(warned('udp'), ['backend-error', 'backend-unreachable', 'no-route', 'proxy-header-error']);
    assert.equal(reasonPolicy('tcp', 'limit').level, 'debug');
    assert.equal(reasonPolicy('tcp', 'backend-error').level, 'info');
    const summarised = (t: Transport): string[] => reasonsOf(t).filter((r) => reasonPolicy(t, r)!.summarised).sort();
    assert.deepEqual(summarised('tcp'), warned('tcp'));
    assert.deepEqual(summarised('udp'), [...warned('udp'), 'evicted', 'fd-exhausted'].sort());
  });

  it('a TCP peer gone before its address was read is logged at debug, and never summarised', () => {
    const log = fakeLog('debug');
    const summary = fakeSummary(0);
    writeCloseLine(log, summary, tcpRecord({ peer: { address: '', port: 0 }, client: { address: '', port: 0 }, reason: 'no-route' }));
    assert.deepEqual(log.lines.map((l) => l.level), ['debug']);
    assert.deepEqual(summary.asked, []);
  });

  it('a level that is off writes nothing and asks no summary, nor computes the client fields', () => {
    const log = fakeLog('warn');
    const summary = fakeSummary();
    let computed = 0;
    writeCloseLine(log, summary, tcpRecord({ reason: 'done', clientFields: () => (computed++, {}) }));
    writeCloseLine(log, summary, udpRecord({ reason: 'evicted', clientFields: () => (computed++, {}) }));
    assert.deepEqual(log.lines, []);
    assert.deepEqual(summary.asked, []);
    assert.equal(computed, 0);
  });

  it('summarised reasons ask the summary (message, listener, reason, level) and are dropped when it says no', () => {
    for (const { transport, reason } of all) {
      const log = fakeLog('info');
      const summary = fakeSummary(0);
      const policy = reasonPolicy(transport, reason)!;
      writeCloseLine(log, summary, recordOf(transport, reason));
      const message = transport === 'tcp' ? 'connection closed' : 'flow closed';
      if (policy.summarised) {
        assert.deepEqual(summary.asked, [[message, transport === 'tcp' ? 'main' : 'quic', reason, policy.level]], `${transport} ${reason}`);
        assert.equal(log.lines.length, 0, `${transport} ${reason} is summarised`);
      } else {
        assert.deepEqual(summary.asked, [], `${transport} ${reason} is never summarised`);
        assert.equal(log.lines.length, policy.level === 'debug' ? 0 : 1, `${transport} ${reason} keeps its line`);
      }
    }
  });

  it('with the real summary: a flood of one kind writes a burst in full, then one summary line at its level', () => {
    const lines: Record<string, unknown>[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const text of chunk.toString('utf8').split('\n')) if (text) lines.push(JSON.parse(text) as Record<string, unknown>);
        cb();
      },
    });
    const log = createLogger({ level: 'info', destination: out as unknown as Parameters<typeof createLogger>[0]['destination'] });
    let now = 0;
    const timers: (() => void)[] = [];
    const clock: SummaryClock = { now: () => now, after: (_ms, fn) => (timers.push(fn), () => undefined) };
    const summary = new LogSummary(log, { clock });
    for (let i = 0; i < 100; i++) writeCloseLine(log, summary, udpRecord({ reason: 'evicted' }));
    for (let i = 0; i < 3; i++) writeCloseLine(log, summary, udpRecord({ reason: 'idle-timeout' }));
    now = 60_000;
    for (const fire of timers) fire();
    return new Promise<void>((resolve) => {
      setImmediate(() => {
        const flows = lines.filter((l) => l['msg'] === 'flow closed');
        assert.equal(flows.filter((l) => l['reason'] === 'evicted').length, SUMMARY_BURST);
        assert.equal(flows.filter((l) => l['reason'] === 'idle-timeout').length, 3);
        const summaries = lines.filter((l) => l['msg'] === SUMMARY_MESSAGE);
        assert.equal(summaries.length, 1);
        assert.equal(summaries[0]!['kind'], 'evicted');
        assert.equal(summaries[0]!['suppressed'], 100 - SUMMARY_BURST);
        assert.equal(summaries[0]!['level'], 30, 'info, the level of the lines it stands for');
        resolve();
      });
    });
  });
});
