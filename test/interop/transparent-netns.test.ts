/**
 * Transparent mode for real, in two network namespaces this test creates: a client namespace with
 * its own address, and portplex's, with a real sshd and a real nginx (plain `listen ... ssl`, no
 * proxy_protocol, logging $remote_addr) on 127.0.0.1 and an echo server that says who connected.
 * `portplex transparent setup --apply` (twice: idempotent) makes the answers come back; then
 * sshd's log and nginx's access log show the client namespace's address, routing by SNI and SSH
 * signature picks the right server, a 1 MiB transfer comes back byte-exact across a half-close;
 * `--remove` leaves the namespace's rules and route_localnet as they were.
 *
 * Needs root, `ip netns`, nft, sshd, ssh, nginx and curl: skipped without them locally, a failure
 * under CI=true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_CERT, DEMO_KEY, REPO_ROOT, defer, makeTempDir, requireTools, runTool, skipUnlessCi, spawnBounded, type Spawned } from '../helpers/interop.js';

const CLI = join(REPO_ROOT, 'dist/src/cli.js');
type T = Parameters<typeof makeTempDir>[0] & Parameters<typeof requireTools>[0];

interface Pair {
  readonly client: string;
  readonly middle: string;
  readonly clientAddress: string;
  readonly middleAddress: string;
  readonly clientAddress6: string;
  readonly middleAddress6: string;
}

/** Two namespaces joined by a veth pair, on a /24 of their own; removed (with the veth) after the test. */
async function namespaces(t: T, ip: string): Promise<Pair> {
  const tag = `${process.pid % 10000}${Math.floor(Math.random() * 1000)}`;
  const octet = 100 + Math.floor(Math.random() * 150);
  const pair: Pair = {
    client: `ppx-c${tag}`, middle: `ppx-m${tag}`, clientAddress: `10.231.${octet}.2`, middleAddress: `10.231.${octet}.1`,
    clientAddress6: `fd00:231:${octet.toString(16)}::2`, middleAddress6: `fd00:231:${octet.toString(16)}::1`,
  };
  const sh = async (...args: string[]): Promise<void> => {
    const r = await runTool(t, ip, args);
    assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`);
  };
  await sh('netns', 'add', pair.client);
  defer(t, () => runTool(t, ip, ['netns', 'del', pair.client]));
  await sh('netns', 'add', pair.middle);
  defer(t, () => runTool(t, ip, ['netns', 'del', pair.middle]));
  await sh('link', 'add', `ppc${tag}`, 'type', 'veth', 'peer', 'name', `ppm${tag}`);
  await sh('link', 'set', `ppc${tag}`, 'netns', pair.client);
  await sh('link', 'set', `ppm${tag}`, 'netns', pair.middle);
  for (const [ns, dev, addr, addr6] of [[pair.client, `ppc${tag}`, pair.clientAddress, pair.clientAddress6], [pair.middle, `ppm${tag}`, pair.middleAddress, pair.middleAddress6]] as const) {
    await sh('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
    // nodad: usable at once, no duplicate address detection to wait for.
    await sh('-n', ns, 'addr', 'add', `${addr6}/64`, 'dev', dev, 'nodad');
    await sh('-n', ns, 'link', 'set', dev, 'up');
    await sh('-n', ns, 'link', 'set', 'lo', 'up');
  }
  return pair;
}

const inNs = (ns: string, argv: readonly string[]): string[] => ['netns', 'exec', ns, ...argv];

/** An echo server that first says the address that connected, then echoes, passing the client's FIN on. */
const ECHO = `
const net = require('node:net');
const s = net.createServer({ allowHalfOpen: true }, (c) => { c.on('error', () => {}); c.write(c.remoteAddress + '\\n'); c.pipe(c); });
s.listen(Number(process.argv[1]), process.argv[2], () => console.log('echo listening'));
`;

/** A client that sends a line and 1 MiB, half-closes, and reports what came back. */
const CLIENT = `
const net = require('node:net'); const crypto = require('node:crypto');
const [host, port] = [process.argv[1], Number(process.argv[2])];
const body = crypto.randomBytes(1 << 20);
const sent = Buffer.concat([Buffer.from(process.argv[3] + '\\n'), body]);
const c = net.connect({ host, port, allowHalfOpen: true });
const parts = [];
c.on('data', (d) => parts.push(d));
c.on('end', () => {
  const got = Buffer.concat(parts); const nl = got.indexOf(10);
  console.log(JSON.stringify({ who: got.subarray(0, nl).toString(), sent: sent.length, echoed: got.length - nl - 1,
    same: crypto.createHash('sha256').update(got.subarray(nl + 1)).digest('hex') === crypto.createHash('sha256').update(sent).digest('hex') }));
  c.end();
});
c.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
c.end(sent);
`;

test('transparent mode in network namespaces: sshd, nginx and an echo server see the client namespace\'s address', { timeout: 120_000 }, async (t) => {
  if (process.getuid?.() !== 0) {
    skipUnlessCi(t, 'network namespaces and IP_TRANSPARENT need root');
    return;
  }
  const tools = requireTools(t, ['ip', 'nft', 'sshd', 'ssh', 'ssh-keygen', 'nginx', 'curl']);
  if (tools === undefined) return;
  const ip = tools.ip;
  const ns = await namespaces(t, ip);
  const dir = makeTempDir(t, 'portplex-transparent-');
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const inMiddle = (name: string, argv: readonly string[]): Spawned => spawnBounded(t, ip, inNs(ns.middle, argv), { name, lifetimeMs: 110_000 });
  const ports = { ssh: 2222, web: 8443, echo: 7000, portplex: 443 };

  // sshd on 127.0.0.1, logging each connection's address (LogLevel VERBOSE: "Connection from ...").
  for (const f of ['host_key', 'client_key']) assert.equal((await runTool(t, tools['ssh-keygen'], ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, f)])).code, 0);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));
  writeFileSync(
    join(dir, 'sshd_config'),
    [`Port ${ports.ssh}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, `PidFile ${join(dir, 'sshd.pid')}`,
      'StrictModes no', 'UsePAM no', 'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UseDNS no', 'LogLevel VERBOSE', ''].join('\n'),
  );
  const sshd = inMiddle('sshd', [tools.sshd, '-D', '-e', '-f', join(dir, 'sshd_config')]);
  await sshd.waitForOutput(/Server listening on 127\.0\.0\.1 port/, 10_000, 'sshd to listen');

  // nginx on 127.0.0.1 with TLS and a plain listen: no proxy_protocol, so $remote_addr is the socket's peer.
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nuser root;\nevents { worker_connections 64; }\nhttp {\n  log_format who '$remote_addr $ssl_server_name';\n  access_log ${dir}/access.log who;\n` +
      `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;\n` +
      `  server { listen 127.0.0.1:${ports.web} ssl; ssl_certificate ${DEMO_CERT}; ssl_certificate_key ${DEMO_KEY}; location / { default_type text/plain; return 200 "nginx saw $remote_addr\\n"; } }\n}\n`,
  );
  const nginx = inMiddle('nginx', [tools.nginx, '-e', join(dir, 'error.log'), '-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;']);
  const echo = inMiddle('echo', [process.execPath, '-e', ECHO, String(ports.echo), '127.0.0.1']);
  await echo.waitForOutput(/echo listening/, 10_000, 'the echo server');
  // IPv6: a server on the namespace's own address (a transparent server cannot be ::1).
  const echo6 = inMiddle('echo6', [process.execPath, '-e', ECHO, String(ports.echo), ns.middleAddress6]);
  await echo6.waitForOutput(/echo listening/, 10_000, 'the IPv6 echo server');

  const rules = join(dir, 'rules.yaml');
  writeFileSync(
    rules,
    `listeners: ["${ns.middleAddress}:${ports.portplex}", { name: v6, bind: "[${ns.middleAddress6}]:${ports.portplex}" }]\nlimits: { per_ip: { rate: 0 } }\n` +
      `backends:\n  ssh: { transparent: true, connect_timeout: 1s, servers: ["127.0.0.1:${ports.ssh}"] }\n` +
      `  web: { transparent: true, connect_timeout: 1s, servers: ["127.0.0.1:${ports.web}"] }\n` +
      `  echo: { servers: [{ address: "127.0.0.1:${ports.echo}", transparent: true }], connect_timeout: 1s }\n` +
      // An IPv6 server first, then an IPv4 one: an IPv4 client skips the first (other family), an IPv6 client reaches it.
      `  echo6: { balance: first, transparent: true, connect_timeout: 1s, servers: ["[${ns.middleAddress6}]:${ports.echo}", "127.0.0.1:${ports.echo}"] }\n` +
      `routes:\n  - { name: ssh, when: { protocol: ssh }, to: ssh }\n  - { name: web, when: { tls: { sni: web.test } }, to: web }\n` +
      `  - { name: six, when: { bytes: { prefix: "48454c4c4f20736978" } }, to: echo6 }\ndefault: echo\n`,
  );
  const cli = (argv: readonly string[]): Promise<Awaited<ReturnType<typeof runTool>>> => runTool(t, ip, inNs(ns.middle, [process.execPath, CLI, ...argv]), { timeoutMs: 20_000 });
  const state = async (): Promise<{ rules: string; tables: string; localnet: string }> => ({
    rules: (await runTool(t, ip, ['-n', ns.middle, 'rule', 'show'])).stdout,
    tables: (await runTool(t, ip, inNs(ns.middle, [tools.nft, 'list', 'tables']))).stdout,
    localnet: (await runTool(t, ip, inNs(ns.middle, ['cat', '/proc/sys/net/ipv4/conf/all/route_localnet']))).stdout.trim(),
  });
  const before = await state();
  assert.doesNotMatch(before.rules, /fwmark/);

  const px = inMiddle('portplex', [process.execPath, CLI, 'run', '--rules', rules, '--workers', '0', '--allow-root', '--log-format', 'json', '--no-watch', '--dataplane', 'native']);
  await px.waitForOutput(/portplex running/, 20_000, 'portplex to start');
  const clientRun = (argv: readonly string[], timeoutMs = 20_000): ReturnType<typeof runTool> => runTool(t, ip, inNs(ns.client, argv), { timeoutMs });
  const echoOnce = async (to = ns.middleAddress, hello = 'HELLO transparent'): Promise<Record<string, unknown>> => {
    const r = await clientRun([process.execPath, '-e', CLIENT, to, String(ports.portplex), hello]);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  };

  // Without the routing the answers go astray: the connect times out, and the close line says so.
  const astray = await echoOnce();
  assert.equal(astray.echoed ?? 0, 0, JSON.stringify(astray));
  await px.waitForOutput(/"reason":"backend-unreachable"/, 10_000, 'the unreachable close line');

  // --apply, twice: one fwmark rule, one table.
  for (let i = 0; i < 2; i++) {
    const r = await cli(['transparent', 'setup', '--rules', rules, '--apply']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  const applied = await state();
  assert.equal(applied.rules.match(/fwmark 0x1 lookup 100/g)?.length, 1, applied.rules);
  assert.match(applied.tables, /table inet portplex_transparent/);
  assert.equal(applied.localnet, '1');

  await t.test('the echo server sees the client namespace, and 1 MiB comes back byte-exact across the half-close', async () => {
    const r = await echoOnce();
    assert.deepEqual(r, { who: ns.clientAddress, sent: (1 << 20) + 'HELLO transparent\n'.length, echoed: (1 << 20) + 'HELLO transparent\n'.length, same: true });
  });

  await t.test('IPv6: an IPv6 client reaches the IPv6 server from its own address; an IPv4 client skips it for the IPv4 one, with the reason in the close line', async () => {
    const size = (1 << 20) + 'HELLO six\n'.length;
    assert.deepEqual(await echoOnce(ns.middleAddress6, 'HELLO six'), { who: ns.clientAddress6, sent: size, echoed: size, same: true });
    assert.deepEqual(await echoOnce(ns.middleAddress, 'HELLO six'), { who: ns.clientAddress, sent: size, echoed: size, same: true });
    const skipped = px.stdout().split('\n').filter((l) => l.includes('"route":"six"')).map((l) => JSON.parse(l) as { failures?: string[] });
    assert.deepEqual(skipped.map((l) => l.failures), [undefined, [`[${ns.middleAddress6}]:${ports.echo}: transparent: an IPv4 client cannot be the source of a connection to an IPv6 server`]]);
  });

  await t.test('ssh: sshd logs the client namespace\'s address, and the command runs', async () => {
    const r = await clientRun([tools.ssh, '-F', '/dev/null', '-i', join(dir, 'client_key'), '-p', String(ports.portplex), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', `root@${ns.middleAddress}`, 'echo transparent-ok'], 30_000);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'transparent-ok');
    const line = sshd.stderr().split('\n').find((l) => l.includes('Connection from'));
    t.diagnostic(`sshd: ${line ?? '(none)'}`);
    assert.match(line ?? '', new RegExp(`^Connection from ${ns.clientAddress.replaceAll('.', '\\.')} port \\d+ on 127\\.0\\.0\\.1 port ${ports.ssh}`));
  });

  await t.test('https by SNI: nginx (no proxy_protocol) logs the client namespace\'s address', async () => {
    const r = await clientRun([tools.curl, '-sk', '--max-time', '10', '--resolve', `web.test:${ports.portplex}:${ns.middleAddress}`, `https://web.test:${ports.portplex}/`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `nginx saw ${ns.clientAddress}\n`);
    assert.match(readFileSync(join(dir, 'access.log'), 'utf8'), new RegExp(`^${ns.clientAddress.replaceAll('.', '\\.')} web\\.test$`, 'm'));
  });

  // A close line follows the client's close by a moment: wait for all five.
  await px.waitForOutput((o) => (o.match(/"reason":"done"/g) ?? []).length >= 5, 10_000, 'five close lines');
  const closes = px.stdout().split('\n').filter((l) => l.includes('"connection closed"')).map((l) => JSON.parse(l) as { route?: string; reason: string; client: string });
  assert.deepEqual(closes.filter((c) => c.reason === 'done').map((c) => c.route ?? 'default').sort(), ['default', 'six', 'six', 'ssh', 'web'], px.stdout());

  // --remove: the namespace is as it was.
  const removed = await cli(['transparent', 'setup', '--rules', rules, '--remove']);
  assert.equal(removed.code, 0, removed.stdout + removed.stderr);
  assert.deepEqual(await state(), before);
  await px.stop();
  await nginx.stop();
});
