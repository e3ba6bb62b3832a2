// Reproduction (found by the soak's flaky-backend kind): a backend that sends data and then resets
// the connection (RST) is logged by portplex with reason "done", and the client receives a clean
// FIN, as if the backend had finished normally. Run after `npm run build`:
//   node bench/soak/repro-backend-reset.mjs [body bytes]
// Expected: reason backend-error (ECONNRESET) and an aborted client connection.
// Seen on Node 20.20.2 / Linux 6.18: reason done, client sees FIN after the echoed bytes.
// Node alone shows the same (a socket whose peer writes then resets emits 'data' then 'end', no
// 'error'), so portplex never hears of the reset; a larger body (the write to the reset socket
// fails first) gives backend-error.
import { connect, createServer } from 'node:net';
import { Writable } from 'node:stream';
import { startPortplex } from '../../dist/src/app.js';
import { compileRulesText } from '../../dist/src/config/load.js';
import { createLogger } from '../../dist/src/observe/logger.js';

const BODY = Number(process.argv[2] ?? 30000);
const N = 20;
const backend = createServer({ allowHalfOpen: true }, (s) => {
  s.on('error', () => {});
  s.once('data', (c) => {
    s.write(c.subarray(c.indexOf('\r\n') + 2)); // echo what follows the PROXY v1 line
    s.resetAndDestroy(); // then abort: SO_LINGER 0, RST
  });
});
await new Promise((r) => backend.listen(0, '127.0.0.1', r));
const lines = [];
const sink = new Writable({ write(c, _e, cb) { for (const l of c.toString().split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
const rules = compileRulesText(`listeners: [{ name: plain, bind: "127.0.0.1:0" }]
backends:
  flaky: { send_proxy: v1, servers: ["127.0.0.1:${backend.address().port}"] }
routes:
  - { name: flaky-http, when: { http: { host: reset.test } }, to: flaky }
`, 'repro.yaml');
const px = await startPortplex(rules.rules, createLogger({ level: 'info', destination: sink }));
const port = px.listeners[0].address.port;
const clientSaw = {};
for (let i = 0; i < N; i++) {
  await new Promise((done) => {
    const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const ev = [];
    let got = 0;
    c.on('data', (d) => (got += d.length));
    c.on('end', () => { ev.push('FIN'); c.destroy(); });
    c.on('error', (e) => ev.push(`error ${e.code}`));
    c.on('close', () => { const k = `${ev.join(',')} after ${got} bytes`; clientSaw[k] = (clientSaw[k] ?? 0) + 1; done(); });
    c.on('connect', () => c.write(Buffer.concat([Buffer.from('POST / HTTP/1.1\r\nHost: reset.test\r\n\r\n'), Buffer.alloc(BODY, 0x61)])));
    setTimeout(() => c.destroy(), 3000);
  });
}
await new Promise((r) => setTimeout(r, 100));
const reasons = {};
for (const l of lines.filter((l) => l.msg === 'connection closed')) { const k = `${l.reason}${l.detail ? ` (${l.detail})` : ''}`; reasons[k] = (reasons[k] ?? 0) + 1; }
console.log(`${N} connections, ${BODY}-byte body, backend echoes then resets:`);
console.log('  portplex log reasons:', reasons);
console.log('  clients saw:', clientSaw);
await px.close();
backend.close();
