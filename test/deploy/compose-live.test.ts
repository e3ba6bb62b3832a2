/**
 * deploy/compose's portplex rules and nginx server file, run together on loopback with the real
 * portplex and Debian's nginx: what `nginx -t` cannot see (a misspelt real_ip_header is valid
 * syntax) and what reading the files cannot prove (PROXY header on one side, proxy_protocol on
 * the other, the address nginx ends up with).
 *
 * Only what Docker provides is substituted, and each substitution must match: the compose
 * service names become 127.0.0.1 ports, portplex's pinned compose address becomes 127.0.0.1 (it
 * connects from there here), the certificate paths a throwaway self-signed pair. sshd is a fake
 * that records what it receives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { startPortplex } from '../../src/app.js';
import {
  connectFromClientAddress,
  defer,
  freePort,
  httpGet,
  makeTempDir,
  readUntilClose,
  requireTools,
  retryOnAddrInUse,
  spawnBounded,
  waitForPort,
  withTimeout,
} from '../helpers/interop.js';
import { LogCapture, recordingBackend } from '../helpers/net.js';
import { nginxArgs, selfSignedCert, substitute, writeNginxConf } from './nginx.js';
import { compileDeployRules, parseYamlFile, readRepoFile } from './support.js';

const compose = parseYamlFile('deploy/compose/compose.yaml') as { services: { portplex: { networks: Record<string, { ipv4_address: string }> } } };
const PINNED = Object.values(compose.services.portplex.networks)[0]!.ipv4_address;

test('compose: HTTPS and HTTP through portplex reach nginx with the client address; SSH reaches sshd without a header', async (t) => {
  const tools = requireTools(t, ['nginx', 'openssl']);
  if (tools === undefined) return;
  const dir = makeTempDir(t, 'portplex-compose-');
  const tls = await selfSignedCert(t, tools.openssl, dir);

  const nginx = await retryOnAddrInUse(async () => {
    const ports = { https: await freePort(), http: await freePort(), health: await freePort() };
    const server = substitute(
      readRepoFile('deploy/compose/nginx/default.conf'),
      [
        ['/etc/nginx/certs/fullchain.pem', tls.cert],
        ['/etc/nginx/certs/privkey.pem', tls.key],
        ['listen 8443 ', `listen 127.0.0.1:${ports.https} `],
        ['listen 8080 ', `listen 127.0.0.1:${ports.http} `],
        ['listen 127.0.0.1:8081;', `listen 127.0.0.1:${ports.health};`],
        [`set_real_ip_from ${PINNED};`, 'set_real_ip_from 127.0.0.1;'],
      ],
      'nginx/default.conf',
    );
    const proc = spawnBounded(t, tools.nginx, [...nginxArgs(dir, writeNginxConf(dir, server)), '-g', 'daemon off;'], { name: 'nginx' });
    try {
      for (const p of Object.values(ports)) await waitForPort(p, { proc });
    } catch (e) {
      await proc.stop();
      throw new Error(`${(e as Error).message}\n${readFileSync(`${dir}/error.log`, 'utf8')}`);
    }
    return ports;
  });

  const sshd = await recordingBackend((socket) => {
    socket.write('SSH-2.0-fake-sshd\r\n');
    socket.on('end', () => socket.end());
  });
  defer(t, () => sshd.close());
  const rulesText = substitute(
    readRepoFile('deploy/compose/portplex/portplex.yaml'),
    [
      ['bind: ":8443"', 'bind: "127.0.0.1:0"'],
      ['"nginx:8443"', `"127.0.0.1:${nginx.https}"`],
      ['"nginx:8080"', `"127.0.0.1:${nginx.http}"`],
      ['"sshd:2222"', `"127.0.0.1:${sshd.port}"`],
    ],
    'portplex/portplex.yaml',
  );
  const logs = new LogCapture('info');
  const running = await startPortplex(compileDeployRules(rulesText, 'portplex/portplex.yaml').rules, logs.logger);
  defer(t, () => withTimeout(running.close(), 5000, 'portplex to close'));
  const port = running.listeners[0]!.address.port;
  const routeOf = async (clientPort: number): Promise<unknown> =>
    (await withTimeout(logs.waitFor((l) => l.msg === 'connection closed' && (l.client as { port: number }).port === clientPort), 5000, 'the close log line')).route;

  await t.test('HTTPS /whoami: nginx reports the client address from the PROXY v2 header (realip)', async () => {
    const tcp = await connectFromClientAddress(port);
    const local = { address: tcp.localAddress!, port: tcp.localPort! };
    const socket = tlsConnect({ socket: tcp, servername: 'localhost', ca: readFileSync(tls.cert) });
    await withTimeout(new Promise<void>((r, j) => socket.once('secureConnect', r).once('error', j)), 10_000, 'the TLS handshake with nginx');
    socket.write('GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    const answer = (await readUntilClose(socket, 'the /whoami answer')).toString('utf8');
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal(answer.slice(answer.indexOf('\r\n\r\n') + 4), `${local.address}\n`);
    assert.equal(await routeOf(local.port), 'https');
  });

  await t.test('plain HTTP on the same port: redirected to HTTPS by nginx', async () => {
    const a = await httpGet(port, 'example.test');
    assert.match(a.head, /^HTTP\/1\.1 301 /);
    assert.match(a.head, /\r\nLocation: https:\/\/example\.test\/(\r\n|$)/i);
    assert.equal(await routeOf(a.localPort), 'http');
  });

  await t.test('SSH: reaches sshd with the client line replayed and no PROXY header', async () => {
    const socket = await connectFromClientAddress(port);
    const clientPort = socket.localPort!;
    socket.write('SSH-2.0-OpenSSH_9.2p1 test\r\n');
    const banner = await withTimeout(new Promise<Buffer>((r) => socket.once('data', r)), 5000, 'the sshd banner');
    assert.equal(banner.toString(), 'SSH-2.0-fake-sshd\r\n');
    socket.end();
    const { received } = await withTimeout(sshd.nextConnection(), 5000, 'sshd to see the connection end');
    assert.equal(received.toString('latin1'), 'SSH-2.0-OpenSSH_9.2p1 test\r\n');
    assert.equal(await routeOf(clientPort), 'ssh');
  });

  await t.test("nginx's compose healthcheck URL answers on loopback without a PROXY header", async () => {
    const r = await fetch(`http://127.0.0.1:${nginx.health}/healthz`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok\n');
  });
});
