/**
 * An sni_forward route sends a ClientHello without SNI to its fallback backend. That dial is the
 * connection's like any other: a client gone (or cut by a drain) while it is under way aborts it, so
 * the pool does not hold a server slot, count a failure against a healthy server, or open a
 * connection for nobody (found in review of issue 16: the fallback's abort was overwritten).
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { buildClientHello } from '../helpers/tls-hello-builder.js';
import { startFromYaml } from '../helpers/net.js';

it('a pending fallback dial is aborted when the connection closes', async () => {
  const p = await startFromYaml(`listeners:
  - bind: "127.0.0.1:0"
backends:
  fb: { servers: ["127.0.0.1:9"] }
routes:
  - name: by-sni
    when: { protocol: tls }
    sni_forward: { port: 443, hosts: [localhost], fallback: fb }
`);
  try {
    const pool = p.running.runtime().pools.get('fb');
    assert.ok(pool);
    let dialed!: () => void;
    const dialing = new Promise<void>((resolve) => (dialed = resolve));
    let aborted = 0;
    // A dial that never completes: the only way it ends is its abort.
    pool.connect = () => {
      dialed();
      return () => void aborted++;
    };
    const client = connect(p.port, '127.0.0.1');
    client.on('error', () => undefined);
    await once(client, 'connect');
    client.write(buildClientHello({}));
    await dialing;
    for (const l of p.running.listeners) l.cut();
    const line = await p.logs.waitFor((l) => l.msg === 'connection closed');
    assert.equal(line.reason, 'client-closed-during-connect');
    assert.equal(line.backend, 'fb');
    assert.equal(aborted, 1);
    client.destroy();
  } finally {
    await p.close();
  }
});
