/**
 * A worker process of `--workers N`: waits for its rules from the primary, serves them (the
 * listening sockets are shared through node:cluster), applies reloads, drains when told to, and
 * is ended by node:cluster when the primary is gone. It never reads rule files itself: every worker runs exactly the
 * texts the primary checked.
 */
import type { NativeAddon } from '../native/addon.js';
import { capabilitiesToKeep } from './keep-capabilities.js';
import { metricsSources, startPortplex, type RunningPortplex } from '../app.js';
import { answerMetricsRequests } from '../admin/cluster-metrics.js';
import { PortplexMetrics } from '../observe/metrics.js';
import { compileRulesTexts, formatIssues } from '../config/load.js';
import { createLogger } from '../observe/logger.js';
import { isPrimaryMessage, type PrimaryMessage, type WorkerMessage } from './messages.js';
import { dropPrivileges } from './privileges.js';
import { loadDemoCertificate } from '../demo/services.js';
import { PortplexError } from '../errors.js';

const format = process.env['PORTPLEX_LOG_FORMAT'];
const levelOverride = process.env['PORTPLEX_LOG_LEVEL'];
const log = createLogger({ level: levelOverride ?? 'info', ...(format === undefined ? {} : { pretty: format === 'pretty' }) });
const metrics = new PortplexMetrics();
answerMetricsRequests(metrics.registry);
let running: RunningPortplex | undefined;
let draining = false;
let graceMs = 30_000;
/** Rules messages are applied one after another, in the order sent. */
let queue: Promise<void> = Promise.resolve();

const send = (m: WorkerMessage): void => {
  if (process.connected) process.send?.(m);
};

async function apply(m: Extract<PrimaryMessage, { type: 'portplex:rules' }>): Promise<void> {
  graceMs = m.graceMs;
  // The admin endpoint lives in the primary: the token file is its business, not a worker's.
  const loaded = compileRulesTexts(m.texts, m.source, { readAdminToken: false });
  if (!loaded.ok) {
    send({ type: 'portplex:applied', seq: m.seq, ok: false, error: formatIssues(loaded.code, loaded.issues) });
    return;
  }
  if (levelOverride === undefined) log.level = loaded.rules.log.level;
  if (running === undefined) {
    // What must be read with the starting user's rights is read first.
    loadDemoCertificate(loaded.rules.demo);
    const drop = m.drop;
    // One worker serves the UDP listeners: the kernel hands a shared UDP socket's datagrams to
    // whichever process reads first, and every datagram of a flow must reach the same one.
    // The native data plane binds in each worker (SO_REUSEPORT), node:cluster in the primary:
    // either way the switch comes once bound and before the first accept.
    running = await startPortplex(loaded.rules, log, {
      observer: metrics,
      udp: process.env['PORTPLEX_UDP_WORKER'] !== '0',
      processes: Number(process.env['PORTPLEX_WORKERS'] ?? '1') || 1,
      ...(drop !== undefined ? { afterBind: (addon: NativeAddon | undefined) => dropPrivileges(drop, capabilitiesToKeep(loaded.rules, addon)) } : {}),
    });
    metrics.setSources(metricsSources(running));
    send({ type: 'portplex:applied', seq: m.seq, ok: true, added: running.listeners.map((l) => l.config.name) });
    return;
  }
  const r = await running.reload(loaded.rules);
  send({ type: 'portplex:applied', seq: m.seq, ok: r.ok, ...(r.error !== undefined ? { error: r.error } : {}), added: r.added, removed: r.removed });
}

async function drain(grace: number): Promise<void> {
  if (draining) return;
  draining = true;
  await running?.stopAccepting();
  send({ type: 'portplex:not-accepting' });
  const cut = (await running?.drain(grace)) ?? 0;
  log.info({ closed_at_deadline: cut }, 'worker drained: exiting');
  log.flush();
  setTimeout(() => process.exit(0), 50).unref();
}

process.on('message', (m: unknown) => {
  if (!isPrimaryMessage(m)) return;
  if (m.type === 'portplex:drain') {
    void drain(m.graceMs);
    return;
  }
  queue = queue.then(() =>
    apply(m).catch((e: unknown) => {
      send({ type: 'portplex:applied', seq: m.seq, ok: false, error: (e as Error).message, ...(e instanceof PortplexError ? { code: e.code } : {}) });
      // A worker that could not start at all has nothing to serve.
      if (running === undefined) setTimeout(() => process.exit(1), 50);
    }),
  );
});

// Ctrl-C and a systemd stop without KillMode=mixed reach every process of the group: drain like
// the primary would have asked, and exit at once on a second signal.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (draining) process.exit(1);
    send({ type: 'portplex:draining' });
    void drain(graceMs);
  });
}
// A terminal hang-up reaches the workers too: reloading is the primary's business, not a reason to die.
process.on('SIGHUP', () => undefined);
// Should the primary die, node:cluster ends this worker at once (nobody could reload or drain it).

send({ type: 'portplex:hello' });
