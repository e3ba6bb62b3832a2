/**
 * Runs one routing decision in a worker thread, so that a decision that never ends (a
 * backtracking regex over a crafted input) fails its test at a deadline instead of freezing the
 * test process: a per-test timeout cannot fire while the event loop is blocked by synchronous work.
 * Loaded by the worker, this file answers its one question; loaded any other way, it only exports.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { compileRulesText } from '../../src/config/load.js';
import { Facts } from '../../src/inspect/facts.js';
import { RouteTable } from '../../src/router/route-table.js';

interface Question {
  readonly rules: string;
  readonly bytes: Uint8Array;
  readonly final: boolean;
}

/** The route name chosen, 'wait', 'default' (nothing matched), or 'invalid: ...' for rules that do not compile. */
export function decideNow(q: Question): string {
  const r = compileRulesText(q.rules, 't.yaml');
  if (!r.ok) return `invalid: ${r.issues.map((i) => `${i.line}:${i.col} ${i.message}`).join('; ')}`;
  const facts = new Facts(1 << 20);
  facts.update(q.bytes);
  const d = new RouteTable(r.rules).decide({ bytes: q.bytes, final: q.final, elapsedMs: 0, srcAddress: '192.0.2.1', srcPort: 40000, localAddress: '127.0.0.1', localPort: 443, facts });
  return d.kind === 'wait' ? 'wait' : (d.route?.name ?? 'default');
}

/** decideNow in a worker; rejects when it has not answered within `deadlineMs` (and stops the worker). */
export function decideOffThread(q: Question, deadlineMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: q });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`no routing decision within ${deadlineMs} ms: the worker's event loop was blocked`));
    }, deadlineMs);
    worker.once('message', (answer: string) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve(answer);
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

if (!isMainThread && parentPort !== null && workerData !== null && typeof workerData === 'object') {
  parentPort.postMessage(decideNow(workerData as Question));
}
