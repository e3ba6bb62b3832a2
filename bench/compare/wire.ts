/**
 * Client-side helpers shared by the bench's own clients (readiness probe, TTFB prober, connection
 * holder): what each route's client sends, and how its answer is recognised.
 */
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { HTTP_BODY, TLS_BODY, TLS_STATUS } from './configs.js';

/** The repository root (this file runs from dist/bench/compare/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Chromium 156's real post-quantum ClientHello (1946 bytes, one TLS record, X25519MLKEM768 key share,
 * ECH, GREASE; see test/fixtures/README.md): the TLS route's request and the parser's input.
 */
export const HELLO_FILE = `${REPO_ROOT}test/fixtures/chromium-156-pq-clienthello.bin`;

export type Route = 'http' | 'tls';

/** A one-shot HTTP request: the server answers and closes. */
export const HTTP_CLOSE_REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n', 'latin1');
/** The same, keeping the connection open afterwards (held connections). */
export const HTTP_KEEPALIVE_REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: bench.test\r\n\r\n', 'latin1');

let hello: Buffer | undefined;
export function clientHello(): Buffer {
  return (hello ??= readFileSync(HELLO_FILE));
}

/** What a client of `route` sends first. */
export function requestFor(route: Route): Buffer {
  return route === 'http' ? HTTP_CLOSE_REQUEST : clientHello();
}

/** Whether `answer` (everything received) is the route's backend's complete answer. */
export function answerIsRight(route: Route, answer: string): boolean {
  return route === 'http' ? answer.startsWith('HTTP/1.1 200 ') && answer.endsWith(HTTP_BODY) : answer.startsWith(`HTTP/1.1 ${TLS_STATUS} `) && answer.endsWith(TLS_BODY);
}

export interface Exchange {
  /** From just before connect() to the first byte of the answer, in ms. */
  readonly firstByteMs: number;
  readonly answer: string;
}

/**
 * Connects to 127.0.0.1:`port`, sends `request` as soon as connected, reads until the server
 * closes. Rejects on a socket error or after `timeoutMs`.
 */
export function exchange(port: number, request: Buffer, timeoutMs: number): Promise<Exchange> {
  return new Promise<Exchange>((resolve, reject) => {
    const t0 = performance.now();
    let firstByteMs = -1;
    const chunks: Buffer[] = [];
    const s = connect({ host: '127.0.0.1', port, noDelay: true }, () => s.write(request));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete answer from 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('data', (c: Buffer) => {
      if (firstByteMs < 0) firstByteMs = performance.now() - t0;
      chunks.push(c);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    });
    s.once('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve({ firstByteMs, answer: Buffer.concat(chunks).toString('latin1') });
    });
  });
}

/**
 * Resolves once a request of each of `routes` sent to `port` gets its right answer (a proxy: both
 * routes; a backend's direct port: its own); rejects after `timeoutMs` or once `alive` says the
 * process died.
 */
export async function waitUntilRouting(port: number, timeoutMs: number, alive: () => string | undefined, routes: readonly Route[] = ['http', 'tls']): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (const route of routes) {
    for (;;) {
      const dead = alive();
      if (dead !== undefined) throw new Error(dead);
      try {
        const r = await exchange(port, requestFor(route), 2000);
        if (answerIsRight(route, r.answer)) break;
        last = `wrong answer for the ${route} route: ${JSON.stringify(r.answer.slice(0, 200))}`;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`127.0.0.1:${port} did not route within ${timeoutMs} ms: ${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
