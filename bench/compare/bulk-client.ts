/**
 * Bulk throughput client: `node bulk-client.js PORT CONNS SECONDS PATH SIZE`.
 *
 * Opens CONNS keep-alive connections and on each downloads PATH (SIZE bytes) again and again
 * until SECONDS have passed: a long connection carrying a continuous stream from the backend to
 * the client (one direction: downloads). Prints `START` once every connection is open and the
 * requests go out, then `RESULT {bytes, seconds, ...}` with everything received in that window.
 *
 * Why not wrk: wrk reads 8 KiB at a time, and on this 2-core machine that cost about twice the
 * CPU per byte of this client, which reads into a fixed 1 MiB buffer (net `onread`, no
 * allocation per read): the generator's CPU is taken from the proxy's, so the cheaper one wins.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { emit, lifetime, numArg } from './child-io.js';

const port = numArg(2, 'PORT');
const conns = Math.max(1, numArg(3, 'CONNS'));
const seconds = numArg(4, 'SECONDS');
const path = process.argv[5] ?? '/';
const size = numArg(6, 'SIZE');
lifetime(seconds * 1000 + 30_000);

const REQUEST = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: bench.test\r\n\r\n`, 'latin1');
const HEAD_MAX = 16 * 1024;
const READ_BUFFER = 1024 * 1024;

let bytes = 0;
let responses = 0;
let errors = 0;
let bad = 0;
let stopped = false;
const problems: string[] = [];

function problem(msg: string): void {
  if (problems.length < 5) problems.push(msg);
}

/** One connection: a tiny HTTP/1.1 response reader (status line, Content-Length, body). */
const perConnection: number[] = [];

function open(): Promise<Socket> {
  const index = perConnection.push(0) - 1;
  let head = '';
  let remaining = 0; // body bytes still expected; 0 = reading a head
  return new Promise<Socket>((resolve, reject) => {
    const s: Socket = connect({
      host: '127.0.0.1',
      port,
      noDelay: true,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER),
        callback: (n: number, buf: Uint8Array): boolean => {
          if (stopped) return false;
          bytes += n;
          perConnection[index]! += n;
          let off = 0;
          while (off < n) {
            if (remaining === 0) {
              const prev = head.length;
              const take = Math.min(n - off, HEAD_MAX - prev);
              head += Buffer.from(buf.buffer, buf.byteOffset + off, take).toString('latin1');
              const end = head.indexOf('\r\n\r\n');
              if (end < 0) {
                if (head.length >= HEAD_MAX) return fail(s, 'response head over 16 KiB');
                off += take;
                continue;
              }
              const status = /^HTTP\/1\.1 (\d{3}) /.exec(head);
              const length = /\r\ncontent-length: *(\d+)\r\n/i.exec(head.slice(0, end + 2));
              if (status?.[1] !== '200' || Number(length?.[1]) !== size) return fail(s, `unexpected answer: ${JSON.stringify(head.slice(0, 120))}`);
              off += end + 4 - prev;
              head = '';
              remaining = size;
            } else {
              const take = Math.min(remaining, n - off);
              remaining -= take;
              off += take;
              if (remaining === 0) {
                responses++;
                if (!stopped) s.write(REQUEST);
              }
            }
          }
          return true;
        },
      },
    });
    s.once('connect', () => resolve(s));
    s.once('error', (e) => {
      if (!stopped) {
        errors++;
        problem(e.message);
      }
      reject(e);
    });
    s.once('close', () => {
      if (!stopped) {
        errors++;
        problem('closed by the server before the end');
      }
    });
  });
}

function fail(s: Socket, msg: string): false {
  bad++;
  problem(msg);
  s.destroy();
  return false;
}

const sockets = await Promise.all(Array.from({ length: conns }, () => open())).catch((e: Error) => {
  emit('RESULT', { bytes: 0, seconds: 0, responses: 0, errors: Math.max(errors, 1), bad, connections: conns, minConnectionBytes: 0, problems: [...problems, `connect: ${e.message}`] });
  process.exit(1);
});
const t0 = performance.now();
emit('START');
for (const s of sockets) s.write(REQUEST);
setTimeout(() => {
  stopped = true;
  const elapsed = (performance.now() - t0) / 1000;
  for (const s of sockets) s.destroy();
  // Every connection must have carried data: one stalled connection among 8 would otherwise hide.
  emit('RESULT', { bytes, seconds: elapsed, responses, errors, bad, connections: conns, minConnectionBytes: Math.min(...perConnection), problems });
  process.exit(0);
}, seconds * 1000);
