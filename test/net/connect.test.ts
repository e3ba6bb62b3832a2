/** connectWithTimeout: one report per attempt, the socket handed over clean or destroyed. */
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { connectWithTimeout, type ConnectResult } from '../../src/net/connect.js';
import { deadPort } from '../helpers/net.js';

const attempt = (opts: Parameters<typeof connectWithTimeout>[0]): Promise<ConnectResult> =>
  new Promise((resolve) => connectWithTimeout(opts, resolve));

describe('connectWithTimeout', () => {
  it('hands over a connected socket with none of its listeners left', async () => {
    const server = createServer((s) => s.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const r = await attempt({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, timeoutMs: 5000, allowHalfOpen: true });
      assert.equal(r.ok, true);
      if (!r.ok) return;
      assert.equal(r.socket.listenerCount('error'), 0);
      assert.equal(r.socket.listenerCount('connect'), 0);
      assert.equal(r.socket.allowHalfOpen, true);
      r.socket.destroy();
    } finally {
      server.close();
    }
  });

  it('reports a refused connect with its errno code', async () => {
    const r = await attempt({ host: '127.0.0.1', port: await deadPort(), timeoutMs: 5000 });
    assert.deepEqual(r, { ok: false, kind: 'error', error: 'ECONNREFUSED' });
  });

  it('reports invalid options as an error, not a throw', async () => {
    const r = await attempt({ host: '127.0.0.1', port: 70000, timeoutMs: 5000 });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.kind, 'error');
  });

  it('times out on a connect that never completes, and destroys the socket', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const pending = new Socket();
      const seen: ConnectResult[] = [];
      connectWithTimeout({ host: '192.0.2.1', port: 9, timeoutMs: 300, open: () => pending }, (r) => seen.push(r));
      mock.timers.tick(299);
      assert.deepEqual(seen, []);
      mock.timers.tick(1);
      assert.deepEqual(seen, [{ ok: false, kind: 'timeout' }]);
      assert.equal(pending.destroyed, true);
      mock.timers.tick(1000);
      assert.equal(seen.length, 1, 'reported once');
    } finally {
      mock.timers.reset();
    }
  });

  it('abort reports once, destroys the socket, and a later error changes nothing', () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const pending = new Socket();
      const seen: ConnectResult[] = [];
      const abort = connectWithTimeout({ host: '192.0.2.1', port: 9, timeoutMs: 300, open: () => pending }, (r) => seen.push(r));
      abort();
      abort();
      mock.timers.tick(1000);
      assert.deepEqual(seen, [{ ok: false, kind: 'aborted' }]);
      assert.equal(pending.destroyed, true);
    } finally {
      mock.timers.reset();
    }
  });
});
