/**
 * `portplex doctor` against real servers: nginx with and without `proxy_protocol` on TLS and
 * plain HTTP listeners, and OpenSSH's sshd (which does not speak PROXY). The CLI itself is run
 * (node dist/src/cli.js doctor --rules FILE) and its lines and exit code are checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileRulesText } from '../../src/config/load.js';
import { runDoctor } from '../../src/tools/doctor/diagnose.js';
import {
  nginxMainConfig,
  DEMO_CERT,
  DEMO_KEY,
  freePort,
  makeTempDir,
  requireTool,
  requireTools,
  retryOnAddrInUse,
  runTool,
  spawnBounded,
  waitForPort,
  type Scope,
} from '../helpers/interop.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

interface DoctorNginx {
  /** `listen ... ssl proxy_protocol;` */
  readonly tlsProxy: number;
  /** `listen ... ssl;` */
  readonly tlsPlain: number;
  /** `listen ... proxy_protocol;` (plain HTTP) */
  readonly httpProxy: number;
  /** `listen ...;` (plain HTTP) */
  readonly httpPlain: number;
  errorLog(): string;
}

async function startDoctorNginx(t: Scope, nginx: string): Promise<DoctorNginx> {
  const dir = makeTempDir(t, 'portplex-doctor-nginx-');
  const errorLog = (): string => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  return retryOnAddrInUse(async () => {
    const p = { tlsProxy: await freePort(), tlsPlain: await freePort(), httpProxy: await freePort(), httpPlain: await freePort() };
    const ssl = `ssl_certificate ${DEMO_CERT}; ssl_certificate_key ${DEMO_KEY};`;
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      nginxMainConfig(
        dir,
        `  default_type text/plain;
  server { listen 127.0.0.1:${p.tlsProxy} ssl proxy_protocol; ${ssl} location / { return 200 "tls-proxy\\n"; } }
  server { listen 127.0.0.1:${p.tlsPlain} ssl; ${ssl} location / { return 200 "tls-plain\\n"; } }
  server { listen 127.0.0.1:${p.httpProxy} proxy_protocol; location / { return 200 "http-proxy\\n"; } }
  server { listen 127.0.0.1:${p.httpPlain}; location / { return 200 "http-plain\\n"; } }
`,
        '# written by test/interop/doctor-nginx.test.ts\n',
      ),
    );
    const proc = spawnBounded(t, nginx, ['-e', join(dir, 'error.log'), '-p', dir + '/', '-c', conf, '-g', 'daemon off;'], { name: 'nginx', lifetimeMs: 30_000 });
    try {
      for (const port of Object.values(p)) await waitForPort(port, { proc });
    } catch (e) {
      await proc.stop();
      throw new Error(`${(e as Error).message}\nnginx error.log:\n${errorLog()}`);
    }
    return { ...p, errorLog };
  });
}

test('portplex doctor against nginx: names the backends whose server does not expect the header it is sent', async (t) => {
  const nginxPath = requireTool(t, 'nginx');
  if (nginxPath === undefined) return;
  const nginx = await startDoctorNginx(t, nginxPath);
  const dir = makeTempDir(t, 'portplex-doctor-rules-');
  const rules = join(dir, 'rules.yaml');
  writeFileSync(
    rules,
    `listeners: ["127.0.0.1:0"]
backends:
  tls-proxy-off: { send_proxy: off, servers: ["127.0.0.1:${nginx.tlsProxy}"] }
  tls-plain-v2: { send_proxy: v2, servers: ["127.0.0.1:${nginx.tlsPlain}"] }
  tls-proxy-v2: { send_proxy: v2, servers: ["127.0.0.1:${nginx.tlsProxy}"] }
  tls-proxy-v1: { send_proxy: v1, servers: ["127.0.0.1:${nginx.tlsProxy}"] }
  tls-plain-off: { send_proxy: off, servers: ["127.0.0.1:${nginx.tlsPlain}"] }
  http-proxy-off: { send_proxy: off, servers: ["127.0.0.1:${nginx.httpProxy}"] }
  http-plain-v1: { send_proxy: v1, servers: ["127.0.0.1:${nginx.httpPlain}"] }
routes:
  - { name: a, when: { tls: { sni: [a.demo.test] } }, to: tls-proxy-off }
  - { name: b, when: { tls: { sni: [b.demo.test] } }, to: tls-plain-v2 }
  - { name: c, when: { protocol: tls }, to: tls-proxy-v2 }
  - { name: d, when: { protocol: tls }, to: tls-proxy-v1 }
  - { name: e, when: { protocol: tls }, to: tls-plain-off }
  - { name: f, when: { http: { host: [f.test] } }, to: http-proxy-off }
  - { name: g, when: { protocol: http }, to: http-plain-v1 }
default: tls-plain-off
`,
  );
  const r = await runTool(t, process.execPath, [CLI, 'doctor', '--rules', rules, '--timeout', '2000'], { timeoutMs: 20_000 });
  const out = `${r.stdout}${r.stderr}\nnginx error.log:\n${nginx.errorLog()}`;
  assert.equal(r.code, 1, out);
  const lines = new Map(r.stdout.trimEnd().split('\n').map((l) => [l.split(' ')[0]!, l]));
  assert.equal(lines.size, 7, out);
  const line = (name: string): string => lines.get(name) ?? assert.fail(`no line for ${name}\n${out}`);

  // nginx `listen ... ssl proxy_protocol` without a header: it closes on the ClientHello ("broken header").
  assert.match(line('tls-proxy-off'), new RegExp(`^tls-proxy-off 127\\.0\\.0\\.1:${nginx.tlsProxy} mismatch: send_proxy off, but the server expects a PROXY header: .*with a PROXY v2 header: a TLS handshake \\(ServerHello\\); hint: server expects a PROXY header \\(it answered with it\\): set send_proxy: v2 \\(or v1\\)$`), out);
  // nginx `listen ... ssl` given a PROXY header: it answers with a plain-HTTP 400.
  assert.match(line('tls-plain-v2'), new RegExp(`^tls-plain-v2 127\\.0\\.0\\.1:${nginx.tlsPlain} mismatch: send_proxy v2, but the server does not expect a PROXY header: .*without a header: a TLS handshake \\(ServerHello\\); hint: server answers without a PROXY header: set send_proxy: off$`), out);
  assert.match(line('tls-proxy-v2'), /^tls-proxy-v2 \S+ ok: expects the PROXY header as configured \(send_proxy v2\)/, out);
  assert.match(line('tls-proxy-v1'), /^tls-proxy-v1 \S+ ok: expects the PROXY header as configured \(send_proxy v1\)/, out);
  assert.match(line('tls-plain-off'), /^tls-plain-off \S+ ok: does not expect a header, as configured/, out);
  assert.match(line('http-proxy-off'), /^http-proxy-off \S+ mismatch: .*; hint: server expects a PROXY header \(it answered with it\): set send_proxy: v2 \(or v1\)$/, out);
  assert.match(line('http-plain-v1'), /^http-plain-v1 \S+ mismatch: .*with a PROXY v1 header: HTTP 400 Bad Request; without a header: HTTP 200 OK; hint: server answers without a PROXY header: set send_proxy: off$/, out);
  assert.match(r.stderr, /7 backend\(s\): 3 ok, 4 mismatch, 0 down, 0 unknown/);
});

test('portplex doctor against OpenSSH sshd configured with send_proxy v2: mismatch ("Invalid SSH identification string")', async (t) => {
  const tools = requireTools(t, ['sshd', 'ssh-keygen']);
  if (tools === undefined) return;
  const dir = makeTempDir(t, 'portplex-doctor-sshd-');
  const k = await runTool(t, tools['ssh-keygen'], ['-q', '-t', 'ed25519', '-N', '', '-C', 'portplex-doctor-host', '-f', join(dir, 'host_key')]);
  assert.equal(k.code, 0, k.stderr);
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const sshd = await retryOnAddrInUse(async () => {
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(
      config,
      [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`, 'StrictModes no', 'UsePAM no', 'UseDNS no', 'LogLevel INFO', ''].join('\n'),
    );
    const proc = spawnBounded(t, tools.sshd, ['-D', '-e', '-f', config], { name: 'sshd', lifetimeMs: 30_000 });
    try {
      await proc.waitForOutput(/Server listening on 127\.0\.0\.1 port/, 10_000, 'sshd to listen');
    } catch (e) {
      await proc.stop();
      throw e;
    }
    return { proc, port };
  });
  const loaded = compileRulesText(
    `listeners: ["127.0.0.1:0"]
backends:
  sshd: { send_proxy: v2, servers: ["127.0.0.1:${sshd.port}"] }
  sshd-off: { servers: ["127.0.0.1:${sshd.port}"] }
routes:
  - { name: ssh, when: { protocol: ssh }, to: sshd }
  - { name: ssh-waits, when: { silent: 1s }, to: sshd-off }
`,
    'doctor-sshd.yaml',
  );
  assert.ok(loaded.ok);
  const [v2, off] = await runDoctor(loaded.rules, { timeoutMs: 3000 });
  const show = `${JSON.stringify([v2, off], null, 1)}\nsshd:\n${sshd.proc.stderr()}`;
  assert.equal(v2!.verdict, 'mismatch', show);
  assert.match(v2!.explanation, /with a PROXY v2 header: an SSH banner "SSH-2\.0-OpenSSH[^"]*" first, then "Invalid SSH identification string\."/, show);
  assert.match(v2!.explanation, /without a header: an SSH banner "SSH-2\.0-OpenSSH[^"]*" first, then the key exchange/, show);
  assert.equal(v2!.hint, 'server answers without a PROXY header: set send_proxy: off');
  assert.equal(off!.verdict, 'ok', show);
});
