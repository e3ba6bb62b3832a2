/**
 * deploy/compose, checked without Docker: the services, their wiring (portplex's backends, the
 * nginx listeners and their PROXY expectations, the pinned address nginx trusts), stopping,
 * health checks, and the rule directory portplex mounts. compose-live.test.ts runs the files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { cidrSet } from '../../src/matchers/cidr-set.js';
import { parseCidr } from '../../src/config/units.js';
import { runTool } from '../helpers/interop.js';
import { execForm, parseDockerfile } from './dockerfile.js';
import { compileDeployRules, DEPLOY, durationMs, flagValue, listenerPorts, parseYamlFile, readRepoFile, type DeployRules } from './support.js';

interface Service {
  build?: { context: string; dockerfile: string };
  image?: string;
  command?: string[];
  ports?: string[];
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean; bind?: { create_host_path?: boolean } })[];
  networks?: string[] | Record<string, { ipv4_address?: string }>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  read_only?: boolean;
  cap_drop?: string[];
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { ipam: { config: { subnet: string }[] } }>;
}

const DIR = join(DEPLOY, 'compose');
const compose = parseYamlFile('deploy/compose/compose.yaml') as Compose;
const px = compose.services.portplex!;
const nginxConf = readRepoFile('deploy/compose/nginx/default.conf');

/** Bind mounts of a service as [host path (absolute), container path]. */
function mounts(s: Service): [string, string][] {
  return (s.volumes ?? []).flatMap((v): [string, string][] => {
    if (typeof v !== 'string') return v.type === 'bind' ? [[resolve(DIR, v.source), v.target]] : [];
    const [src, dst] = v.split(':');
    return src!.startsWith('.') ? [[resolve(DIR, src!), dst!]] : [];
  });
}

/** The rule directory portplex mounts at its --rules path, every *.yaml in it compiled. */
function mountedRules(): { dir: string; files: Map<string, DeployRules> } {
  const rulesPath = flagValue(px.command ?? [], '--rules');
  const mount = mounts(px).find(([, target]) => target === rulesPath);
  assert.ok(mount, `a bind mount at --rules ${String(rulesPath)}`);
  const dir = mount[0];
  assert.ok(statSync(dir).isDirectory(), `${dir}: --rules is a directory in the containers`);
  const names = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort();
  assert.ok(names.length > 0);
  return { dir, files: new Map(names.map((n) => [n, compileDeployRules(readFileSync(join(dir, n), 'utf8'), join(dir, n))])) };
}

/** nginx/default.conf's listen directives: port -> whether it expects a PROXY header. */
function nginxListens(): Map<number, boolean> {
  const out = new Map<number, boolean>();
  for (const m of nginxConf.matchAll(/^\s*listen\s+([^;]+);/gm)) {
    const [addr, ...params] = m[1]!.trim().split(/\s+/);
    out.set(Number(addr!.slice(addr!.lastIndexOf(':') + 1)), params.includes('proxy_protocol'));
  }
  return out;
}

test('portplex is built from deploy/Dockerfile and fronts :443, hardened', () => {
  assert.ok(px.build);
  assert.equal(resolve(DIR, px.build.context), resolve(DEPLOY, '..'));
  assert.ok(existsSync(resolve(DIR, px.build.context, px.build.dockerfile)));
  const { files } = mountedRules();
  const ports = [...files.values()].flatMap((r) => listenerPorts(r.rules));
  assert.deepEqual(px.ports, ports.map((p) => `443:${p}`), 'published 443 -> the listener port');
  assert.equal(px.read_only, true);
  assert.deepEqual(px.cap_drop, ['ALL']);
});

test('stop_grace_period is longer than --drain-timeout: compose would SIGKILL a drain otherwise', () => {
  const drain = durationMs(flagValue(px.command ?? [], '--drain-timeout'), '--drain-timeout');
  assert.ok(durationMs(px.stop_grace_period, 'stop_grace_period') > drain);
});

test("the image's HEALTHCHECK reaches the admin endpoint of the mounted rules", () => {
  const stages = parseDockerfile(readRepoFile('deploy/Dockerfile'));
  const hc = stages.at(-1)!.instructions.find((i) => i.cmd === 'HEALTHCHECK')!;
  const admins = [...mountedRules().files.values()].flatMap((r) => (r.adminListen ? [r.adminListen] : []));
  assert.equal(admins.length, 1, 'one admin section in the rule directory');
  assert.equal(admins[0]!.host, '127.0.0.1', 'the admin endpoint is not published: loopback is enough');
  assert.ok(execForm(hc.args, 'HEALTHCHECK')[2]!.includes(`http://127.0.0.1:${admins[0]!.port}/healthz`));
});

test('every backend is a compose service; nginx expects a PROXY header exactly where portplex sends one', () => {
  const listens = nginxListens();
  const seen = new Set<string>();
  for (const r of mountedRules().files.values()) {
    for (const b of r.rules.backends.values()) {
      for (const s of b.servers) {
        assert.ok(compose.services[s.host], `backend ${b.name}: ${s.host} is a compose service`);
        seen.add(s.host);
        if (s.host === 'nginx') {
          assert.ok(listens.has(s.port), `nginx listens on ${s.port}`);
          assert.equal(listens.get(s.port), s.sendProxy !== 'off', `nginx:${s.port} proxy_protocol <-> send_proxy ${s.sendProxy}`);
        } else {
          assert.equal(s.sendProxy, 'off', `${s.host} (OpenSSH) does not read PROXY headers`);
          assert.ok(compose.services[s.host]!.healthcheck!.test.join(' ').includes(`/${s.port}`), `${s.host}'s healthcheck probes port ${s.port}`);
        }
      }
    }
  }
  assert.deepEqual([...seen].sort(), ['nginx', 'sshd']);
});

test("nginx trusts the PROXY header only from portplex's pinned address, inside the compose network", () => {
  const nets = px.networks as Record<string, { ipv4_address?: string }>;
  const [[net, { ipv4_address: pinned }]] = Object.entries(nets) as [[string, { ipv4_address?: string }]];
  assert.ok(pinned);
  const subnet = parseCidr(compose.networks[net]!.ipam.config[0]!.subnet);
  assert.ok(typeof subnet !== 'string');
  assert.ok(cidrSet([subnet])(pinned), `${pinned} in ${net}'s subnet`);
  const trusted = [...nginxConf.matchAll(/^\s*set_real_ip_from\s+([^;]+);/gm)].map((m) => m[1]);
  assert.ok(trusted.length >= 1);
  assert.deepEqual(new Set(trusted), new Set([pinned]));
  // Every server that reads the header takes the address from it.
  const proxied = [...nginxListens().values()].filter(Boolean).length;
  assert.equal([...nginxConf.matchAll(/^\s*real_ip_header proxy_protocol;/gm)].length, proxied);
});

test("nginx's mounts: the server file and the certificate directory its ssl_certificate paths name", () => {
  const nginx = compose.services.nginx!;
  const m = mounts(nginx);
  assert.ok(m.some(([src, dst]) => src === join(DIR, 'nginx/default.conf') && dst === '/etc/nginx/conf.d/default.conf'));
  const certDir = m.find(([src]) => src === join(DIR, 'certs'))?.[1];
  assert.ok(certDir);
  for (const [, path] of nginxConf.matchAll(/^\s*ssl_certificate(?:_key)?\s+([^;]+);/gm)) assert.ok(path!.startsWith(`${certDir}/`), path);
  // A missing certificate or key file must stop `up`, not become an empty directory.
  for (const v of [...(nginx.volumes ?? []), ...(compose.services.sshd!.volumes ?? [])]) {
    if (typeof v !== 'string' && v.type === 'bind') assert.equal(v.bind?.create_host_path, false, v.source);
  }
});

test('depends_on waits for health checks that exist', () => {
  for (const [name, dep] of Object.entries(px.depends_on ?? {})) {
    assert.equal(dep.condition, 'service_healthy');
    assert.ok(compose.services[name]?.healthcheck, `${name} has a healthcheck`);
  }
  assert.deepEqual(Object.keys(px.depends_on ?? {}).sort(), ['nginx', 'sshd']);
});

test("sshd's healthcheck command succeeds on a listening port and fails on a closed one", async (t) => {
  const cmd = compose.services.sshd!.healthcheck!.test;
  assert.deepEqual(cmd.slice(0, 3), ['CMD', 'bash', '-c']);
  const server = createServer((s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const run = async (): Promise<number | null> =>
    (await runTool(t, 'bash', ['-c', cmd[3]!.replace('/dev/tcp/127.0.0.1/2222', `/dev/tcp/127.0.0.1/${port}`)])).code;
  assert.ok(cmd[3]!.includes('/dev/tcp/127.0.0.1/2222'));
  assert.equal(await run(), 0);
  await new Promise<void>((r) => server.close(() => r()));
  assert.notEqual(await run(), 0);
});
