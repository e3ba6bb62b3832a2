/** The bytes a health check sends: the PROXY header HAProxy's check-send-proxy sends (v1 own addresses, v2 LOCAL). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { HealthConfig, SendProxy, ServerConfig } from '../../src/config/types.js';
import { runHealthCheck, type CheckResult } from '../../src/backends/health-check.js';
import { deadPort } from '../helpers/net.js';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

const check = (over: Partial<HealthConfig> = {}): HealthConfig =>
  ({ type: 'tcp', intervalMs: 1000, timeoutMs: 5000, rise: 1, fall: 1, sendProxy: true, sni: undefined, alpn: [], send: Buffer.from('PING\r\n'), expect: { kind: 'bytes', bytes: Buffer.from('PONG') }, ...over }) as HealthConfig;

/** Runs one check against a server that records what it got and answers PONG; returns the bytes and the check's client port. */
async function bytesOfCheck(sendProxy: SendProxy): Promise<{ got: Buffer; peerPort: number; serverPort: number; result: CheckResult }> {
  let got = Buffer.alloc(0);
  let peerPort = 0;
  const server = createServer((s: Socket) => {
    peerPort = s.remotePort ?? 0;
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.includes('PING\r\n')) s.end('PONG');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  try {
    const result = await new Promise<CheckResult>((resolve) => runHealthCheck({ host: '127.0.0.1', port, sendProxy } as ServerConfig, check(), resolve));
    return { got, peerPort, serverPort: port, result };
  } finally {
    server.close();
  }
}

it('send_proxy v1: the addresses of the check connection itself, then the check bytes', async () => {
  const r = await bytesOfCheck('v1');
  assert.deepEqual(r.result, { ok: true, detail: 'connected, expected answer seen' });
  assert.equal(r.got.toString('latin1'), `PROXY TCP4 127.0.0.1 127.0.0.1 ${r.peerPort} ${r.serverPort}\r\nPING\r\n`);
});

it('send_proxy v2: a LOCAL header with no addresses and no TLVs (PROXY protocol spec §2.2: command 0x20, family 0x00, length 0)', async () => {
  const r = await bytesOfCheck('v2');
  assert.equal(r.result.ok, true);
  assert.deepEqual(r.got, Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00]), Buffer.from('PING\r\n')]));
});

it('send_proxy off: the check bytes alone', async () => {
  const r = await bytesOfCheck('off');
  assert.equal(r.got.toString('latin1'), 'PING\r\n');
});

it('a refused check says connect: and the errno code', async () => {
  const port = await deadPort();
  const r = await new Promise<CheckResult>((resolve) => runHealthCheck({ host: '127.0.0.1', port, sendProxy: 'off' } as ServerConfig, check(), resolve));
  assert.deepEqual(r, { ok: false, detail: 'connect: ECONNREFUSED' });
});
