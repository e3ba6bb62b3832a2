/**
 * ClientHello parse rate of portplex's parser alone (src/protocols/tls-client-hello.ts), on the
 * real post-quantum Chromium hello: hellos per second on one core (this process's main thread),
 * after a warm-up that lets V8 optimise the parser. Every call's result is checked, so the work
 * cannot be optimised away and a parser that stopped recognising the hello fails the run.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseClientHello } from '../../src/protocols/tls/client-hello.js';
import { HELLO_FILE } from './wire.js';

export interface ParserResult {
  readonly helloBytes: number;
  /** Hellos per second, one value per round. */
  readonly rounds: number[];
  readonly parses: number;
}

const BATCH = 2000;

function runFor(hello: Uint8Array, ms: number): { parses: number; seconds: number; ok: boolean } {
  let parses = 0;
  let checksum = 0;
  const t0 = performance.now();
  let now = t0;
  while (now - t0 < ms) {
    for (let i = 0; i < BATCH; i++) {
      const r = parseClientHello(hello);
      checksum += r.kind === 'ok' && r.value.sni === 'a.test' ? r.length : -1e9;
    }
    parses += BATCH;
    now = performance.now();
  }
  return { parses, seconds: (now - t0) / 1000, ok: checksum === parses * hello.length };
}

export function measureParser(o: { warmupMs: number; roundMs: number; rounds: number }, failures: string[]): ParserResult {
  const hello = new Uint8Array(readFileSync(HELLO_FILE));
  const first = parseClientHello(hello);
  if (first.kind !== 'ok' || first.value.sni !== 'a.test' || first.length !== hello.length) {
    failures.push(`parser: the Chromium hello does not parse as expected: ${JSON.stringify(first).slice(0, 200)}`);
    return { helloBytes: hello.length, rounds: [], parses: 0 };
  }
  runFor(hello, o.warmupMs);
  const rounds: number[] = [];
  let parses = 0;
  for (let i = 0; i < o.rounds; i++) {
    const r = runFor(hello, o.roundMs);
    if (!r.ok) failures.push(`parser: a parse of the Chromium hello gave a wrong answer in round ${i + 1}`);
    rounds.push(r.parses / r.seconds);
    parses += r.parses;
  }
  return { helloBytes: hello.length, rounds, parses };
}
