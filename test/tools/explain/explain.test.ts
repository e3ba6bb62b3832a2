/** `portplex explain` on recorded first flights, through the real CLI, and the live debug trace. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { exchange, recordingBackend, startFromYaml } from '../../helpers/net.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const cli = (...args: string[]): Promise<{ stdout: string }> => run('node', [`${ROOT}dist/src/cli.js`, 'explain', ...args], { cwd: ROOT });

describe('portplex explain', () => {
  it('a ClientHello built from --sni/--alpn takes the https route of the demo rules', async () => {
    const { stdout } = await cli('rules/portplex.yaml', '--sni', 'www.demo.test', '--alpn', 'h2,http/1.1');
    assert.match(stdout, /client sent: \d+ bytes: a TLS ClientHello, SNI www\.demo\.test, ALPN h2,http\/1\.1, version 1\.3/);
    assert.match(stdout, /1\. https +match\n +protocol match: tls: a complete first message\n +tls\.sni match: sni "www\.demo\.test"/);
    assert.match(stdout, /2\. http +not evaluated/);
    assert.match(stdout, /decision: route https -> backend web$/m);
  });

  it('the recorded Chromium hello (--capture) and a TLS 1.2-only hello (--tls-version)', async () => {
    const chromium = await cli('rules/portplex.yaml', '--capture', 'test/fixtures/chromium-156-pq-clienthello.bin');
    assert.match(chromium.stdout, /SNI a\.test/);
    assert.match(chromium.stdout, /1\. https +no-match\n.*\n +tls\.sni no-match: sni "a\.test"/);
    assert.match(chromium.stdout, /decision: no route matched: default -> backend other/);
    const old = await cli('rules/examples/nginx-and-tunnel.yaml', '--sni', 'x.example', '--tls-version', '1.2');
    assert.match(old.stdout, /version 1\.2/);
    assert.match(old.stdout, /tls\.version match: highest version 1\.2/);
  });

  it('--hex bytes, a silent client (--after) and bytes that may still grow (--more)', async () => {
    const ssh = await cli('rules/examples/ssh-and-https.yaml', '--hex', Buffer.from('SSH-2.0-OpenSSH_9.2\r\n').toString('hex'));
    assert.match(ssh.stdout, /decision: route ssh -> backend sshd/);
    const silent = await cli('rules/examples/ssh-and-https.yaml', '--after', '1200');
    assert.match(silent.stdout, /silent match: silent for 1200ms \(wanted 1000ms\)/);
    assert.match(silent.stdout, /decision: route ssh-client-waits -> backend sshd/);
    const partial = await cli('rules/examples/ssh-and-https.yaml', '--hex', '5353', '--more');
    assert.match(partial.stdout, /1\. ssh +need-more/);
    assert.match(partial.stdout, /decision: none yet/);
    const json = JSON.parse((await cli('rules/examples/ssh-and-https.yaml', '--hex', '5353', '--json')).stdout) as { decision: string; routes: { verdict: string }[] };
    assert.equal(json.decision, 'default');
    assert.equal(json.routes[0]!.verdict, 'no-match');
  });

  it('refuses contradictory or malformed input', async () => {
    await assert.rejects(cli('rules/portplex.yaml', '--hex', 'zz'), /not hex bytes/);
    await assert.rejects(cli('rules/portplex.yaml', '--hex', '16', '--sni', 'a'), /use one of/);
  });
});

it('a live connection logs the same trace at debug level', async () => {
  const b = await recordingBackend();
  const px = await startFromYaml(`listeners: ["127.0.0.1:0"]
backends:
  b: { servers: ["127.0.0.1:${b.port}"] }
routes:
  - { name: tls, when: { protocol: tls }, to: b }
  - { name: ssh, when: { protocol: ssh }, to: b }
`);
  try {
    await exchange(px.port, [Buffer.from('SSH-2.0-x\r\n')]);
    const line = await px.logs.waitFor((l) => l.msg === 'route decided');
    assert.equal(line.trace, 'tls:no-match ssh:match');
    assert.equal(line.route, 'ssh');
    assert.equal(typeof line.after_ms, 'number');
  } finally {
    await px.close();
    await b.close();
  }
});
