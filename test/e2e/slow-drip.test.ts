/**
 * Slow senders over real sockets: what the inspector puts off to stay linear in the bytes received
 * (src/matchers/over-text.ts) does not keep a connection waiting for its deadline.
 *  - A regex condition put off until more bytes come is re-run once the client pauses, long
 *    before the inspect deadline.
 *  - A request head one byte per write is routed and replayed byte for byte.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { exchange, recordingBackend, rulesFor, startFromYaml, type RecordingBackend, type TestPortplex } from '../helpers/net.js';
import { longHttpHead } from '../helpers/first-messages.js';

async function client(port: number): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1' });
  s.setNoDelay(true);
  s.on('error', () => undefined);
  await once(s, 'connect');
  return s;
}

describe('slow senders', () => {
  let regex: RecordingBackend, web: RecordingBackend, other: RecordingBackend;
  let px: TestPortplex;
  /** Resolves with the bytes of the next connection `regex` accepted, once `n` of them are in (the client has not ended). */
  let regexGot: ((n: number) => Promise<Buffer>) | undefined;

  before(async () => {
    const waiting: { n: number; resolve: (b: Buffer) => void }[] = [];
    regex = await recordingBackend((socket, received) => {
      socket.on('end', () => socket.end());
      socket.on('data', () => {
        const w = waiting[0];
        if (w !== undefined && received().length >= w.n) {
          waiting.shift();
          w.resolve(received());
        }
      });
    });
    regexGot = (n) => new Promise((resolve) => waiting.push({ n, resolve }));
    [web, other] = await Promise.all([recordingBackend(), recordingBackend()]);
    px = await startFromYaml(
      rulesFor(
        { regex: { port: regex.port }, web: { port: web.port }, other: { port: other.port } },
        `  - name: http
    when: { protocol: http }
    to: web
  - name: tail
    when: { bytes: { regex: "TAIL-MARK" } }
    to: regex`,
        'default: other\n',
      ).replace('inspect: { timeout: 10s }', 'inspect: { timeout: 120s }'),
    );
  });
  after(async () => {
    await px.close();
    await Promise.all([regex, web, other].map((x) => x.close()));
  });

  it('a regex that matches only in a small last segment is re-run once the client pauses, not at the deadline', { timeout: 30_000 }, async () => {
    const big = Buffer.alloc(3000, 'x');
    const tail = Buffer.from('TAIL-MARK');
    const got = regexGot!(big.length + tail.length);
    const s = await client(px.port);
    s.write(big);
    await new Promise((r) => setTimeout(r, 50));
    // 9 bytes after 3000: less than an eighth, so the regex is put off; no FIN, the deadline is 120 s away.
    s.write(tail);
    assert.deepEqual(await got, Buffer.concat([big, tail]));
    s.destroy();
  });

  it('a 4 KB request head one byte per write is routed and replayed byte for byte', { timeout: 30_000 }, async () => {
    const head = longHttpHead(4000);
    await exchange(px.port, [...head].map((b) => Uint8Array.of(b)), { gapMs: 0 });
    assert.deepEqual((await web.nextConnection()).received, head);
  });
});
