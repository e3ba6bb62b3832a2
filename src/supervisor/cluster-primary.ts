/**
 * The primary of `--workers N`: forks the workers (node:cluster, so they share the listening
 * sockets the primary binds), hands each the rules, relays reloads and drain, and starts a new
 * worker when one dies. Like nginx's master, the primary never touches client bytes.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { RulesText } from '../config/load.js';
import type { RulesConfig } from '../config/types.js';
import { PortplexError } from '../errors.js';
import type { Logger } from '../observe/logger.js';
import type { ApplyOutcome, Controller, WorkerStatus } from './controller.js';
import { isWorkerMessage, type DropPlan, type PrimaryMessage, type WorkerMessage } from './messages.js';

const WORKER_MAIN = fileURLToPath(new URL('./worker-main.js', import.meta.url));
/** How long a worker may take to apply rules before the primary gives up on it. */
const APPLY_TIMEOUT_MS = 15_000;
/** A worker dying sooner than this after its start counts towards a crash loop (slower restarts). */
const CRASH_LOOP_MS = 5_000;
const MAX_RESTART_DELAY_MS = 10_000;

export interface ClusterOptions {
  readonly count: number;
  readonly source: string;
  readonly drop: DropPlan | undefined;
  /** Grace period a worker uses when it gets a stop signal of its own. */
  readonly graceMs: number;
  /** Environment for the workers (log level and format). */
  readonly env: Readonly<Record<string, string>>;
}

interface Pending {
  readonly resolve: (m: Extract<WorkerMessage, { type: 'portplex:applied' }>) => void;
}

interface Slot {
  worker: Worker;
  startedAt: number;
  /** Sequence number of the rules this worker confirmed. */
  appliedSeq: number;
  readonly pending: Map<number, Pending>;
  /** This worker serves the UDP listeners (exactly one does: a flow must stay in one process). */
  readonly udp: boolean;
}

export class ClusterController implements Controller {
  private readonly slots = new Set<Slot>();
  private texts: readonly RulesText[] = [];
  private seq = 0;
  private restarts = 0;
  private recentCrashes = 0;
  private stopping = false;
  private readonly restartTimers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly opts: ClusterOptions,
    private readonly log: Logger,
  ) {}

  /** The live worker processes (for metrics collection). */
  get liveWorkers(): Worker[] {
    return [...this.slots].map((s) => s.worker).filter((w) => w.isConnected());
  }

  async start(texts: readonly RulesText[], _rules: RulesConfig): Promise<void> {
    // The workers accept from the shared listening socket themselves. node:cluster's default on
    // Linux (round robin) has the primary accept every connection and pass it over IPC: one core
    // does all accepts, and here it cost a third of the connection rate. NODE_CLUSTER_SCHED_POLICY
    // set by the admin still wins.
    if (process.env['NODE_CLUSTER_SCHED_POLICY'] === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: WORKER_MAIN, args: [], silent: false });
    this.texts = texts;
    this.seq++;
    const results = await Promise.all(Array.from({ length: this.opts.count }, (_, i) => this.fork(i === 0)));
    const failed = results.find((r) => !r.ok);
    if (failed !== undefined) {
      this.abort();
      throw new PortplexError(failed.code ?? 'PORTPLEX_ERR_LISTEN', failed.error ?? 'a worker could not start');
    }
    cluster.on('exit', (worker, code, signal) => this.exited(worker, code, signal));
  }

  async reload(texts: readonly RulesText[], _rules: RulesConfig): Promise<ApplyOutcome> {
    const previous = this.texts;
    // Set first: a worker that starts while this reload is under way must get the new rules too.
    this.texts = texts;
    const outcome = await this.applyEverywhere(texts);
    if (outcome.ok) return outcome;
    // Some worker could not take the new rules: put every worker back on the running ones, so
    // they all serve the same rules (re-applying unchanged rules changes nothing).
    this.texts = previous;
    await this.applyEverywhere(previous);
    return outcome;
  }

  async drain(graceMs: number, notAccepting: () => void): Promise<void> {
    this.stopping = true;
    for (const t of this.restartTimers) clearTimeout(t);
    const live = this.liveWorkers;
    const exits = live.map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
    // Each worker closes its listening sockets and says so; node:cluster handles the worker's close
    // before that message (one ordered channel), so once all have answered the ports are closed.
    const closed = live.map(
      (w) =>
        new Promise<void>((r) => {
          const on = (m: unknown): void => {
            if (isWorkerMessage(m) && m.type === 'portplex:not-accepting') r();
          };
          w.on('message', on);
          w.once('exit', () => r());
        }),
    );
    for (const w of live) this.send(w, { type: 'portplex:drain', graceMs });
    void Promise.all(closed).then(notAccepting);
    // The workers close what is left at the grace deadline; this is only in case one hangs.
    const hang = setTimeout(() => this.abort(), graceMs + 5_000);
    await Promise.all(exits);
    clearTimeout(hang);
  }

  abort(): void {
    this.stopping = true;
    for (const t of this.restartTimers) clearTimeout(t);
    for (const s of this.slots) if (!s.worker.isDead()) s.worker.process.kill('SIGKILL');
  }

  workers(): WorkerStatus {
    // A worker serving older rules while a reload is in flight still serves: readiness must not flap.
    const listening = [...this.slots].filter((s) => s.worker.isConnected() && s.appliedSeq > 0).length;
    return { wanted: this.opts.count, listening, restarts: this.restarts };
  }

  private async applyEverywhere(texts: readonly RulesText[]): Promise<ApplyOutcome> {
    const seq = ++this.seq;
    const answers = await Promise.all([...this.slots].filter((s) => s.worker.isConnected()).map((s) => this.applyTo(s, seq, texts)));
    const failed = answers.find((a) => !a.ok);
    return failed ?? answers[0] ?? { ok: false, error: 'no worker is running' };
  }

  /** Forks one worker and resolves once it runs the current rules (or could not). */
  private fork(udp: boolean): Promise<ApplyOutcome> {
    const worker = cluster.fork({ ...this.opts.env, PORTPLEX_WORKER: '1', PORTPLEX_UDP_WORKER: udp ? '1' : '0' });
    const slot: Slot = { worker, startedAt: Date.now(), appliedSeq: 0, pending: new Map(), udp };
    this.slots.add(slot);
    worker.on('message', (m: unknown) => {
      if (!isWorkerMessage(m)) return;
      if (m.type === 'portplex:applied') {
        const p = slot.pending.get(m.seq);
        slot.pending.delete(m.seq);
        p?.resolve(m);
      } else if (m.type === 'portplex:draining' && !this.stopping) {
        this.log.info({ worker: worker.process.pid }, 'worker got a stop signal of its own: it drains and is replaced');
      }
    });
    // A worker that died before answering fails whatever it was asked.
    worker.once('exit', () => {
      for (const [seq, p] of slot.pending) p.resolve({ type: 'portplex:applied', seq, ok: false, error: 'the worker exited' });
      slot.pending.clear();
    });
    return new Promise((resolve) => {
      const died = (code: number | null, signal: string | null): void => resolve({ ok: false, error: `worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) before it started` });
      worker.once('exit', died);
      const hello = (m: unknown): void => {
        if (!isWorkerMessage(m) || m.type !== 'portplex:hello') return;
        worker.off('message', hello);
        void this.applyTo(slot, this.seq, this.texts).then((r) => {
          worker.off('exit', died);
          if (r.ok) this.log.info({ worker: worker.process.pid }, 'worker started');
          resolve(r);
        });
      };
      worker.on('message', hello);
    });
  }

  private applyTo(slot: Slot, seq: number, texts: readonly RulesText[]): Promise<ApplyOutcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        slot.pending.delete(seq);
        resolve({ ok: false, error: `worker ${slot.worker.process.pid} did not answer within ${APPLY_TIMEOUT_MS} ms` });
      }, APPLY_TIMEOUT_MS);
      slot.pending.set(seq, {
        resolve: (m) => {
          clearTimeout(timer);
          if (m.ok) slot.appliedSeq = seq;
          resolve({ ok: m.ok, ...(m.error !== undefined ? { error: m.error } : {}), ...(m.code !== undefined ? { code: m.code } : {}), ...(m.added ? { added: m.added } : {}), ...(m.removed ? { removed: m.removed } : {}) });
        },
      });
      this.send(slot.worker, { type: 'portplex:rules', seq, source: this.opts.source, texts, drop: this.opts.drop, graceMs: this.opts.graceMs });
    });
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const slot = [...this.slots].find((s) => s.worker === worker);
    if (slot === undefined) return;
    this.slots.delete(slot);
    if (this.stopping) return;
    const lived = Date.now() - slot.startedAt;
    this.recentCrashes = lived < CRASH_LOOP_MS ? this.recentCrashes + 1 : 0;
    const delay = Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** Math.min(this.recentCrashes, 7));
    this.log.warn({ worker: worker.process.pid, code, signal, lived_ms: lived, restart_in_ms: delay }, 'worker died: starting a new one');
    const t = setTimeout(() => {
      this.restartTimers.delete(t);
      if (this.stopping) return;
      this.restarts++;
      void this.fork(slot.udp).then((r) => {
        if (r.ok) this.log.info({ replaced: worker.process.pid, workers: this.workers().listening }, 'worker replaced');
        else this.log.error({ err: r.error }, 'the new worker could not start');
      });
    }, delay);
    this.restartTimers.add(t);
  }

  private send(worker: Worker, m: PrimaryMessage): void {
    if (worker.isConnected()) worker.send(m);
  }
}
