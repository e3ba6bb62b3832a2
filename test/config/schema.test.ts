/**
 * rules/portplex.schema.json is what editors use to complete and check rule files; `portplex check` is what
 * decides. These tests keep the two in step: the shipped files pass both, the schema knows exactly the keys the
 * compiler allows at every level (and the same enums), and typical mistakes are refused by both.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { compileRulesText, loadRules } from '../../src/config/load.js';
import {
  DEMO_KEYS,
  DEMO_KINDS,
  INSPECT_KEYS,
  LIMITS_KEYS,
  LISTENER_KEYS,
  LOG_KEYS,
  LOG_LEVELS,
  PER_IP_KEYS,
  PROXY_ACCEPTS,
  PROXY_PROTOCOL_KEYS,
  TIMEOUTS_KEYS,
  TOP_KEYS,
} from '../../src/config/compile.js';
import { DATAPLANE_ASKS } from '../../src/config/types.js';
import { BACKEND_KEYS, BALANCES, HEALTH_KEYS, HEALTH_TYPES, PASSIVE_KEYS, PROXY_V2_DATAGRAMS, PROXY_V2_KEYS, SEND_PROXY, SERVER_KEYS } from '../../src/config/backends.js';
import { AUTH_KEYS, CONNECT_KEYS, ROUTE_KEYS, SNI_FORWARD_KEYS } from '../../src/config/routes.js';
import { BYTES_KEYS, RANGE_KEYS, WHEN_KEYS } from '../../src/config/conditions.js';
import { POSTGRES_KINDS } from '../../src/protocols/postgres/index.js';
import { WHEN_PROTOCOLS } from '../../src/protocols/registry.js';
import { TLS_VERSIONS } from '../../src/protocols/tls/when.js';
import { PROTOCOLS, TRANSPORTS } from '../../src/config/types.js';
import { UDP_KEYS, UDP_PER_IP_KEYS } from '../../src/config/udp.js';
import { ADMIN_KEYS } from '../../src/config/admin.js';

const RULES_DIR = fileURLToPath(new URL('../../../rules/', import.meta.url));
const SCHEMA_FILE = `${RULES_DIR}portplex.schema.json`;

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: unknown;
  $defs?: Record<string, SchemaNode>;
  enum?: unknown[];
  [k: string]: unknown;
}

const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as SchemaNode;
const defs = schema.$defs ?? {};

let compiled: ValidateFunction | undefined;
function validator(): ValidateFunction {
  // Strict mode, but with union types (a YAML value may be a string or a number) and `required` of keys that an
  // if/then/not names while their definitions sit in the enclosing `properties` (strictRequired).
  compiled ??= new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true }).compile(schema);
  return compiled;
}

function schemaErrors(data: unknown): string[] {
  const v = validator();
  return v(data) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(`${dir}${e.name}/`) : e.name.endsWith('.yaml') || e.name.endsWith('.yml') ? [`${dir}${e.name}`] : [],
  );
}

describe('rules/portplex.schema.json: the shipped rule files', () => {
  const files = yamlFiles(RULES_DIR);
  it('there are rule files, and the schema compiles', () => {
    assert.ok(files.length >= 5, files.join(', '));
    assert.equal(typeof validator(), 'function');
  });
  for (const f of files) {
    const short = f.slice(RULES_DIR.length);
    it(`${short} names the schema on its first line, validates against it, and passes check`, () => {
      const text = readFileSync(f, 'utf8');
      const first = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text);
      assert.ok(first, `${short}: the first line must be "# yaml-language-server: $schema=<path to portplex.schema.json>"`);
      assert.equal(resolve(dirname(f), first[1]!), resolve(SCHEMA_FILE), `${short}: $schema=${first[1]} is not ${relative(dirname(f), SCHEMA_FILE)}`);
      assert.deepEqual(schemaErrors(parse(text)), [], `${short} against the schema`);
      const r = loadRules(f);
      assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('\n'));
    });
  }
});

describe('rules/portplex.schema.json: keys and enums equal the compiler\'s', () => {
  const levels: [string, SchemaNode | undefined, readonly string[]][] = [
    ['top level', schema, TOP_KEYS],
    ['listeners[]', defs.listener, LISTENER_KEYS],
    ['listeners[].proxy_protocol', defs.proxyProtocol, PROXY_PROTOCOL_KEYS],
    ['inspect', defs.inspect, INSPECT_KEYS],
    ['timeouts', defs.timeouts, TIMEOUTS_KEYS],
    ['limits', defs.limits, LIMITS_KEYS],
    ['limits.per_ip', defs.perIp, PER_IP_KEYS],
    ['backends.*', defs.backend, BACKEND_KEYS],
    ['backends.*.servers[]', defs.server, SERVER_KEYS],
    ['backends.*.health', defs.health, HEALTH_KEYS],
    ['backends.*.passive', defs.passive, PASSIVE_KEYS],
    ['backends.*.proxy_v2', defs.proxyV2, PROXY_V2_KEYS],
    ['routes[]', defs.route, ROUTE_KEYS],
    ['routes[].connect', defs.connect, CONNECT_KEYS],
    ['routes[].connect.auth[]', defs.auth, AUTH_KEYS],
    ['routes[].sni_forward', defs.sniForward, SNI_FORWARD_KEYS],
    ['when', defs.when, WHEN_KEYS],
    ['when.tls.version {min, max}', defs.tlsVersionRange, RANGE_KEYS],
    ['when.bytes', defs.bytes, BYTES_KEYS],
    ['when.bytes.length {min, max}', defs.lengthRange, RANGE_KEYS],
    // Each protocol's `when:` key (src/protocols/<name>/): the schema's definition is named after it.
    ...WHEN_PROTOCOLS.map((m): [string, SchemaNode | undefined, readonly string[]] => [`when.${m.key}`, defs[m.key], m.when.keys]),
    ['demo[]', defs.demo, DEMO_KEYS],
    ['log', defs.log, LOG_KEYS],
    ['admin', defs.admin, ADMIN_KEYS],
    ['udp', defs.udp, UDP_KEYS],
    ['udp.per_ip', defs.udpPerIp, UDP_PER_IP_KEYS],
  ];
  for (const [what, node, keys] of levels) {
    it(`${what}: the same keys, and no others allowed`, () => {
      assert.ok(node, `the schema has no definition for ${what}`);
      assert.deepEqual(Object.keys(node.properties ?? {}).sort(), [...keys].sort());
      assert.equal(node.additionalProperties, false, `${what} must refuse unknown keys, as check does`);
    });
  }
  it('every mapping the schema defines is compared above', () => {
    const covered = new Set(levels.map(([, n]) => n));
    const unchecked = Object.entries(defs).filter(([, n]) => n.properties !== undefined && !covered.has(n)).map(([k]) => k);
    assert.deepEqual(unchecked, []);
  });

  /** The `enum` of a schema node, looking into anyOf and list-or-value wrappers, without the YAML `false` = off alias. */
  function enumOf(node: SchemaNode | undefined): unknown[] {
    if (!node) return [];
    if (node.enum) return node.enum.filter((v) => v !== false);
    const subs = [...((node.anyOf as SchemaNode[] | undefined) ?? []), ...(node.items ? [node.items as SchemaNode] : [])];
    return [...new Set(subs.flatMap(enumOf))];
  }
  const enums: [string, SchemaNode | undefined, readonly unknown[]][] = [
    ['backends.*.send_proxy', defs.backend?.properties?.send_proxy, SEND_PROXY],
    ['backends.*.servers[].send_proxy', defs.server?.properties?.send_proxy, SEND_PROXY],
    ['backends.*.balance', defs.backend?.properties?.balance, BALANCES],
    ['backends.*.health.type', defs.health?.properties?.type, HEALTH_TYPES],
    ['listeners[].proxy_protocol.accept', defs.proxyProtocol?.properties?.accept, PROXY_ACCEPTS],
    ['when.protocol', defs.when?.properties?.protocol, PROTOCOLS],
    ['when.postgres.kind', defs.postgres?.properties?.kind, POSTGRES_KINDS],
    ['demo[].kind', defs.demo?.properties?.kind, DEMO_KINDS],
    ['log.level', defs.log?.properties?.level, LOG_LEVELS],
    ['listeners[].transport', defs.listener?.properties?.transport, TRANSPORTS],
    ['backends.*.transport', defs.backend?.properties?.transport, TRANSPORTS],
    ['backends.*.proxy_v2.datagrams', defs.proxyV2?.properties?.datagrams, PROXY_V2_DATAGRAMS],
    ['dataplane', schema.properties?.['dataplane'], DATAPLANE_ASKS],
  ];
  for (const [what, node, values] of enums) {
    it(`${what}: the same values`, () => assert.deepEqual(enumOf(node).map(String).sort(), values.map(String).sort()));
  }
  it('when.tls.version: the same version names (each accepted by both, others refused by both)', () => {
    for (const v of Object.keys(TLS_VERSIONS)) {
      const text = withRoute(`{ when: { tls: { version: "${v}" } }, to: web }`);
      assert.deepEqual(checkIssues(text), [], `check refused ${v}`);
      assert.deepEqual(schemaErrors(parse(text)), [], `the schema refused ${v}`);
    }
    for (const v of ['1.4', 'tls1.3', '2.0']) {
      const text = withRoute(`{ when: { tls: { version: "${v}" } }, to: web }`);
      assert.notDeepEqual(checkIssues(text), [], `check accepted ${v}`);
      assert.notDeepEqual(schemaErrors(parse(text)), [], `the schema accepted ${v}`);
    }
  });
});

const BASE = `listeners:
  - bind: "127.0.0.1:0"
backends:
  web: { servers: ["127.0.0.1:4443"] }
`;
const withRoute = (route: string): string => `${BASE}routes:\n  - ${route}\n`;
const withBackend = (backend: string): string => `listeners: ["127.0.0.1:0"]\nbackends:\n  web: ${backend}\ndefault: web\n`;
const withListener = (listener: string): string => `listeners:\n  - ${listener}\nbackends:\n  web: { servers: ["127.0.0.1:4443"] }\ndefault: web\n`;

function checkIssues(text: string): string[] {
  const r = compileRulesText(text, 'case.yaml');
  return r.ok ? [] : r.issues.map((i) => i.message);
}

describe('rules/portplex.schema.json: what both accept and both refuse', () => {
  const valid: [string, string][] = [
    ['a route to a backend', withRoute('{ name: web, when: { tls: { sni: ["example.com", "*.example.com"], alpn: [h2] } }, to: web }')],
    ['a default backend without routes', `${BASE}default: web\n`],
    ['connect: true and unquoted off', `${BASE}routes:\n  - { when: { http: { method: CONNECT } }, connect: true }\n  - { to: web }\n`],
    ['durations and sizes written several ways', `${BASE}default: web\ninspect: { timeout: 2500, max_bytes: 16k }\ntimeouts: { idle: 1.5h }\nlimits: { inspect_buffer_total: 64MiB }\n`],
    ['tls version ranges and byte lengths', withRoute('{ when: { any: [{ tls: { version: "1.2..1.3" } }, { tls: { version: { min: "1.0" } } }, { bytes: { length: "4..64", prefix: "16 03" } }] }, to: web }')],
    ['a backend with health, passive off and keepalive', withBackend('{ servers: [{ address: "127.0.0.1:1", weight: 3 }, { address: "127.0.0.1:2", backup: true }], send_proxy: off, health: { type: tls, sni: x.test, interval: 5s, timeout: 2s }, passive: false, keepalive: true }')],
    ['proxy_v2 with a server sending v2', withBackend('{ servers: [{ address: "127.0.0.1:1", send_proxy: v2 }], proxy_v2: { unique_id: true, pass_tlvs: [0xEA] } }')],
    ['inbound PROXY protocol with trusted peers', withListener('{ bind: ":0", proxy_protocol: { accept: optional, trusted: ["10.0.0.0/8"], timeout: 5s, max_bytes: 4096 } }')],
    ['an admin endpoint with a refresh period', `${BASE}default: web\nadmin: { listen: "127.0.0.1:9900", status_refresh: 10s }\n`],
    ['an admin endpoint on IPv6 loopback, refresh in ms', `${BASE}default: web\nadmin: { listen: "[::1]:9900", status_refresh: 2500 }\n`],
    ['an admin endpoint with allowed_hosts', `${BASE}default: web\nadmin: { listen: ":9900", allowed_hosts: [portplex-admin.monitoring.svc, "10.0.0.5"] }\n`],
    ['postgres with no sub-keys, nested not', withRoute('{ when: { postgres: null, not: { src: "10.0.0.0/8" } }, to: web }')],
  ];
  for (const [what, text] of valid) {
    it(`accepted by both: ${what}`, () => {
      assert.deepEqual(checkIssues(text), [], 'check');
      assert.deepEqual(schemaErrors(parse(text)), [], 'schema');
    });
  }

  const invalid: [string, string][] = [
    ['an unknown top-level key', `${BASE}default: web\nlisten: ":443"\n`],
    ['an unknown listener key', withListener('{ bind: ":0", port: 443 }')],
    ['an unknown proxy_protocol key', withListener('{ bind: ":0", proxy_protocol: { accept: optional, trusted: ["10.0.0.0/8"], version: 2 } }')],
    ['an unknown backend key', withBackend('{ servers: ["127.0.0.1:1"], timeout: 5s }')],
    ['an unknown server key', withBackend('{ servers: [{ address: "127.0.0.1:1", priority: 1 }] }')],
    ['an unknown health key', withBackend('{ servers: ["127.0.0.1:1"], health: { type: tcp, path: / } }')],
    ['an unknown route key', withRoute('{ name: web, backend: web }')],
    ['an unknown condition', withRoute('{ when: { host: example.com }, to: web }')],
    ['an unknown tls condition key, deep in any/not', withRoute('{ when: { any: [{ not: { tls: { server_name: example.com } } }] }, to: web }')],
    ['an unknown limits.per_ip key', `${BASE}default: web\nlimits: { per_ip: { connection: 5 } }\n`],
    ['a bad send_proxy', withBackend('{ servers: ["127.0.0.1:1"], send_proxy: v3 }')],
    ['a bad balance', withBackend('{ servers: ["127.0.0.1:1"], balance: random }')],
    ['a bad protocol', withRoute('{ when: { protocol: [tls, ftp] }, to: web }')],
    ['a bad log level', `${BASE}default: web\nlog: { level: verbose }\n`],
    ['a bad postgres kind', withRoute('{ when: { postgres: { kind: query } }, to: web }')],
    ['a bad health type', withBackend('{ servers: ["127.0.0.1:1"], health: { type: http } }')],
    ['a weight out of range', withBackend('{ servers: [{ address: "127.0.0.1:1", weight: 300 }] }')],
    ['retries out of range', withBackend('{ servers: ["127.0.0.1:1"], retries: 17 }')],
    ['inspect.max_bytes below 64', `${BASE}default: web\ninspect: { max_bytes: 32 }\n`],
    ['limits.tracked_addresses below 100', `${BASE}default: web\nlimits: { tracked_addresses: 50 }\n`],
    ['a sni_forward port out of range', withRoute('{ sni_forward: { port: 70000, hosts: [example.org] } }')],
    ['a route with two actions', withRoute('{ to: web, connect: {} }')],
    ['a route with no action', withRoute('{ name: nothing, when: { protocol: tls } }')],
    ['a bad duration text', `${BASE}default: web\ntimeouts: { idle: 5 minutes }\n`],
    ['a bad health interval', withBackend('{ servers: ["127.0.0.1:1"], health: { interval: fast } }')],
    ['a bad size text', `${BASE}default: web\ninspect: { max_bytes: 16 gb }\n`],
    ['accept: required without trusted', withListener('{ bind: ":0", proxy_protocol: { accept: required } }')],
    ['auth with both password and password_env', withRoute('{ connect: { auth: [{ user: alice, password: x, password_env: HOME }] } }')],
    ['sni_forward without hosts', withRoute('{ sni_forward: { port: 443 } }')],
    ['health sni with type tcp', withBackend('{ servers: ["127.0.0.1:1"], health: { type: tcp, sni: x.test } }')],
    ['every server a backup', withBackend('{ servers: [{ address: "127.0.0.1:1", backup: true }] }')],
    ['an unknown admin key', `${BASE}default: web\nadmin: { listen: "127.0.0.1:9900", port: 9900 }\n`],
    ['admin without listen', `${BASE}default: web\nadmin: { status_refresh: 5s }\n`],
    ['admin.listen without a port', `${BASE}default: web\nadmin: { listen: "127.0.0.1" }\n`],
    ['admin.status_refresh below 1s', `${BASE}default: web\nadmin: { listen: "127.0.0.1:9900", status_refresh: 500 }\n`],
    ['admin.status_refresh not a duration', `${BASE}default: web\nadmin: { listen: "127.0.0.1:9900", status_refresh: often }\n`],
    ['admin.allowed_hosts not a list', `${BASE}default: web\nadmin: { listen: ":9900", allowed_hosts: portplex.svc }\n`],
    ['admin.token_file empty', `${BASE}default: web\nadmin: { listen: ":9900", token_file: "" }\n`],
    ['no listeners', 'backends:\n  web: { servers: ["127.0.0.1:1"] }\ndefault: web\n'],
    ['neither routes nor default', BASE],
  ];
  for (const [what, text] of invalid) {
    it(`refused by both: ${what}`, () => {
      assert.notDeepEqual(checkIssues(text), [], `check accepted:\n${text}`);
      assert.notDeepEqual(schemaErrors(parse(text)), [], `the schema accepted:\n${text}`);
    });
  }
});
