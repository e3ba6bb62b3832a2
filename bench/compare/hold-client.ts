/**
 * Connection holder for RSS per held connection: `node hold-client.js PORT N PARALLEL`.
 *
 * Opens N connections (at most PARALLEL being set up at once), and on each sends an HTTP/1.1
 * keep-alive request and reads its whole answer: the connection has been routed, the backend
 * connection is open and the proxy is splicing an idle pair. Then it holds them all and prints
 * `READY {opened, answered, ...}`. On a line (or EOF) on stdin it checks that none was closed
 * meanwhile, closes them all and prints `DONE {closedEarly}`.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { emit, lifetime, numArg } from './child-io.js';
import { HTTP_KEEPALIVE_REQUEST, answerIsRight } from './wire.js';

const port = numArg(2, 'PORT');
const total = numArg(3, 'N');
const parallel = Math.max(1, numArg(4, 'PARALLEL'));
lifetime(180_000);

const held: Socket[] = [];
let errors = 0;
let bad = 0;
let closedEarly = 0;
let releasing = false;
const problems: string[] = [];

function problem(msg: string): void {
  if (problems.length < 5) problems.push(msg);
}

/** One routed, answered, then idle connection; resolves false when it could not be set up. */
function openOne(): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let answer = '';
    let settled = false;
    const s = connect({ host: '127.0.0.1', port, noDelay: true }, () => s.write(HTTP_KEEPALIVE_REQUEST));
    const timer = setTimeout(() => settle(false, 'no answer within 10 s'), 10_000);
    const settle = (good: boolean, why?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (why !== undefined) problem(why);
      if (!good) s.destroy();
      resolve(good);
    };
    s.setEncoding('latin1');
    s.on('data', (c: string) => {
      answer += c;
      if (answerIsRight('http', answer)) {
        held.push(s);
        settle(true);
      } else if (answer.length > 4096) {
        bad++;
        settle(false, `wrong answer ${JSON.stringify(answer.slice(0, 120))}`);
      }
    });
    s.on('error', (e) => {
      if (!settled) errors++;
      settle(false, e.message);
    });
    s.on('close', () => {
      if (!settled) {
        errors++;
        settle(false, 'closed before the answer');
      } else if (!releasing) closedEarly++;
    });
  });
}

const t0 = performance.now();
let next = 0;
let answered = 0;
await Promise.all(
  Array.from({ length: Math.min(parallel, total) }, async () => {
    while (next < total) {
      next++;
      if (await openOne()) answered++;
    }
  }),
);
emit('READY', { opened: total, answered, errors, bad, closedEarly, problems, seconds: (performance.now() - t0) / 1000 });

const release = (): void => {
  const early = closedEarly;
  releasing = true;
  for (const s of held) s.destroy();
  emit('DONE', { closedEarly: early });
  process.exit(0);
};
process.stdin.once('data', release);
process.stdin.once('end', release);
