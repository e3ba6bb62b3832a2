/**
 * rules/examples/ssh-and-https.yaml with real programs: a real OpenSSH client logs in to a real
 * sshd and runs a command through portplex, and an HTTPS client reaches nginx
 * (`listen ... ssl proxy_protocol`), both on the same portplex port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { recordingBackend, startFromYaml } from '../helpers/net.js';
import {
  REPO_ROOT,
  clientSourceAddress,
  connectFromClientAddress,
  defer,
  findTool,
  freePort,
  httpsGet,
  makeTempDir,
  reEscape,
  requireTools,
  retryOnAddrInUse,
  runTool,
  spawnBounded,
  startNginx,
  withTimeout,
} from '../helpers/interop.js';

const EXAMPLE = join(REPO_ROOT, 'rules/examples/ssh-and-https.yaml');
const PROXY_V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** Replaces every occurrence of `from` (a string or a global regex), failing if there is none: the example must still look as expected. */
function replaceOrFail(text: string, from: string | RegExp, to: string): string {
  const hit = typeof from === 'string' ? text.includes(from) : new RegExp(from.source).test(text);
  assert.ok(hit, `${EXAMPLE} no longer contains ${String(from)}: update this test`);
  return typeof from === 'string' ? text.replaceAll(from, to) : text.replace(from, to);
}

test('rules/examples/ssh-and-https.yaml: a real ssh client reaches a real sshd, and HTTPS reaches nginx, on the same port', async (t) => {
  const tools = requireTools(t, ['sshd', 'ssh', 'ssh-keygen']);
  if (tools === undefined) return;
  const nginxPath = findTool('nginx');
  const dir = makeTempDir(t, 'portplex-sshd-');
  const user = userInfo().username;

  // Keys: a host key for sshd, a client key authorized for the current user.
  for (const [file, comment] of [
    ['host_ed25519_key', 'portplex-test-host'],
    ['client_key', 'portplex-test-client'],
  ] as const) {
    const r = await runTool(t, tools['ssh-keygen'], ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', join(dir, file)]);
    assert.equal(r.code, 0, `ssh-keygen failed: ${r.stderr}`);
  }
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')));

  // sshd's privilege separation directory (needed when running as root; exists after a normal install).
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const sshd = await retryOnAddrInUse(async () => {
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_ed25519_key')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'StrictModes no',
        'UsePAM no',
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UseDNS no',
        'PrintMotd no',
        'PrintLastLog no',
        'LogLevel INFO',
        '',
      ].join('\n'),
    );
    // sshd insists on an absolute path (it re-executes itself); -D: foreground, -e: log to stderr.
    const proc = spawnBounded(t, tools.sshd, ['-D', '-e', '-f', config], { name: 'sshd' });
    try {
      await proc.waitForOutput(/Server listening on 127\.0\.0\.1 port/, 10_000, 'sshd to listen');
    } catch (e) {
      await proc.stop();
      throw e;
    }
    return { proc, port };
  });

  // The HTTPS backend: nginx speaking PROXY (the example sends it v2), else a recorder.
  const nginx = nginxPath !== undefined ? await startNginx(t, nginxPath) : undefined;
  const recorder = nginx === undefined ? await recordingBackend() : undefined;
  if (recorder) defer(t, () => recorder.close());
  const httpsPort = nginx?.tlsPort ?? recorder!.port;

  let yaml = readFileSync(EXAMPLE, 'utf8');
  yaml = replaceOrFail(yaml, '":443"', '"127.0.0.1:0"');
  yaml = replaceOrFail(yaml, /127\.0\.0\.1:22(?!\d)/g, `127.0.0.1:${sshd.port}`);
  yaml = replaceOrFail(yaml, /127\.0\.0\.1:4443(?!\d)/g, `127.0.0.1:${httpsPort}`);
  const px = await startFromYaml(yaml);
  defer(t, () => withTimeout(px.close(), 5000, 'portplex to close'));

  await t.test(`ssh ${user}@127.0.0.1 -p <portplex> runs a command on the real sshd`, async () => {
    const src = await clientSourceAddress();
    const r = await runTool(
      t,
      tools.ssh,
      [
        '-F', '/dev/null',
        '-i', join(dir, 'client_key'),
        '-p', String(px.port),
        '-b', src,
        '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'GlobalKnownHostsFile=/dev/null',
        '-o', 'BatchMode=yes',
        '-o', 'IdentitiesOnly=yes',
        '-o', 'IdentityAgent=none',
        '-o', 'PreferredAuthentications=publickey',
        '-o', 'ConnectTimeout=5',
        '-o', 'LogLevel=ERROR',
        `${user}@127.0.0.1`,
        'echo portplex-ssh-ok',
      ],
      { timeoutMs: 15_000 },
    );
    assert.equal(r.code, 0, `ssh failed (${r.signal ?? r.code}): ${r.stderr}\nsshd:\n${sshd.proc.stderr()}`);
    assert.equal(r.stdout, 'portplex-ssh-ok\n');
    // sshd gets no PROXY header: its TCP peer is portplex (127.0.0.1), and it logged our login.
    assert.match(sshd.proc.stderr(), new RegExp(`Accepted publickey for ${reEscape(user)} from 127\\.0\\.0\\.1 port \\d+`));
    const line = await withTimeout(
      px.logs.waitFor((l) => l.msg === 'connection closed' && l.route === 'ssh'),
      5000,
      'the close log line of the ssh connection',
    );
    assert.equal(line.backend, 'sshd');
    assert.equal(line.reason, 'done');
    assert.equal((line.client as { address: string }).address, src);
  });

  await t.test('HTTPS with any SNI on the same port goes to the TLS backend with PROXY v2', async () => {
    if (nginx !== undefined) {
      const a = await httpsGet(px.port, 'anything.example');
      assert.match(a.head, /^HTTP\/1\.1 200 /, `nginx answered: ${a.head}\n${nginx.errorLog()}`);
      const esc = reEscape(a.localAddress);
      assert.match(a.body, new RegExp(`^server=tls addr=${esc} port=${a.localPort} remote=${esc}:${a.localPort} sni=anything\\.example tls=TLSv1\\.[23]\\n$`));
    } else {
      // No nginx: a TLS client's first bytes must arrive after a PROXY v2 header.
      const client = await connectFromClientAddress(px.port);
      t.after(() => client.destroy());
      const tls = tlsConnect({ socket: client, servername: 'anything.example', rejectUnauthorized: false });
      tls.on('error', () => undefined);
      const got = await withTimeout(
        new Promise<Buffer>((resolve) => {
          recorder!.server.once('connection', (s) => {
            let acc = Buffer.alloc(0);
            s.on('data', (c: Buffer) => {
              acc = Buffer.concat([acc, c]);
              if (acc.length >= 16 && acc.length >= 16 + acc.readUInt16BE(14) + 5) resolve(acc);
            });
          });
        }),
        10_000,
        'the TLS backend to receive the PROXY header and the ClientHello',
      );
      tls.destroy();
      assert.deepEqual(got.subarray(0, 12), PROXY_V2_SIGNATURE);
      assert.equal(got[16 + got.readUInt16BE(14)], 0x16, 'the ClientHello record follows the PROXY header');
    }
    const line = await withTimeout(
      px.logs.waitFor((l) => l.msg === 'connection closed' && l.route === 'https'),
      5000,
      'the close log line of the HTTPS connection',
    );
    assert.equal(line.backend, 'nginx');
    assert.equal(line.sni, 'anything.example');
  });
});
