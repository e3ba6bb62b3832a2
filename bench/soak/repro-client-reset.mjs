// Reproduction (seen in the soak's reset kinds): a client that resets its connection right after
// sending some bytes is treated by portplex as a client that half-closed (EOF): the partial bytes
// are routed, a backend connection is opened, and the backend receives them followed by a clean
// FIN, as if the client had finished its request. Run after `npm run build`:
//   node bench/soak/repro-client-reset.mjs
// Node alone shows the same: a socket whose peer writes then resets before it is read emits 'data'
// then 'end', no 'error'.
import { connect, createServer } from 'node:net';
import { Writable } from 'node:stream';
import { startPortplex } from '../../dist/src/app.js';
import { compileRulesText } from '../../dist/src/config/load.js';
import { createLogger } from '../../dist/src/observe/logger.js';

const got = [];
const backend = createServer({ allowHalfOpen: true }, (s) => {
  const chunks = [];
  let how = 'close';
  s.on('data', (c) => chunks.push(c));
  s.on('end', () => { how = 'FIN'; s.end(); });
  s.on('error', (e) => { how = `error ${e.code}`; });
  s.on('close', () => got.push(`${Buffer.concat(chunks).toString('latin1').replace(/\r\n/g, '\\r\\n')} then ${how}`));
});
await new Promise((r) => backend.listen(0, '127.0.0.1', r));
const lines = [];
const sink = new Writable({ write(c, _e, cb) { for (const l of c.toString().split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
const rules = compileRulesText(`listeners: [{ name: plain, bind: "127.0.0.1:0" }]
backends:
  web: { send_proxy: v1, servers: ["127.0.0.1:${backend.address().port}"] }
default: web
`, 'repro.yaml');
const px = await startPortplex(rules.rules, createLogger({ level: 'info', destination: sink }));
const port = px.listeners[0].address.port;
for (let i = 0; i < 5; i++) {
  const c = connect({ port, host: '127.0.0.1' });
  c.on('error', () => {});
  await new Promise((r) => c.once('connect', r));
  c.write('POST /transfer HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\npartial');
  c.resetAndDestroy(); // abort before portplex got to read anything
  await new Promise((r) => setTimeout(r, 100));
}
console.log('portplex log reasons:', lines.filter((l) => l.msg === 'connection closed').map((l) => l.reason));
console.log('the backend received:', got);
await px.close();
backend.close();
