/**
 * `portplex run`: read and check the rules, start the workers (or run in this process), and wire
 * the signals: SIGHUP reloads, SIGTERM/SIGINT drain then exit 0, a second stop signal exits 1.
 * Returns the exit code for failures before serving; once serving, the process exits from here.
 */
import { ERROR_CODES, PortplexError, type ErrorCode } from '../errors.js';
import { compileRulesTexts, formatIssues, formatWarnings, readRulesSource } from '../config/load.js';
import { formatHostPort } from '../config/units.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { collectWorkerMetrics } from '../admin/cluster-metrics.js';
import type { AdminSource } from '../admin/server.js';
import { PortplexMetrics } from '../observe/metrics.js';
import { AdminHost } from './admin-host.js';
import { ClusterController } from './cluster-primary.js';
import type { Controller } from './controller.js';
import { InProcessController } from './in-process.js';
import { planPrivileges } from './privileges.js';
import { loadAddon } from '../native/addon.js';
import { chooseDataplane, dataplaneRequest } from '../native/choose.js';
import { Supervisor } from './supervisor.js';
import { hasNetAdmin, transparentRefusal } from '../transparent/requirements.js';

export interface RunOptions {
  readonly rules: string;
  readonly logLevel: string | undefined;
  readonly logFormat: string | undefined;
  readonly user: string | undefined;
  readonly group: string | undefined;
  readonly allowRoot: boolean;
  readonly graceMs: number;
  /** 0: no worker processes, everything in this one. */
  readonly workers: number;
  readonly watch: boolean;
  /** --dataplane: auto, native or js (undefined: PORTPLEX_DATAPLANE, then the rules, then auto). */
  readonly dataplane: string | undefined;
}

/** Exit 2 for rules that cannot run (bad file, root refused), 1 for a failure while starting. */
const fail = (code: ErrorCode, message: string, exitCode: 1 | 2 = 2): number => {
  process.stderr.write(`${message}\n${code}: ${ERROR_CODES[code]}\n`);
  return exitCode;
};

export async function run(opts: RunOptions): Promise<number> {
  const read = readRulesSource(opts.rules);
  if (!read.ok) return fail(read.code, formatIssues(read.code, read.issues));
  const loaded = compileRulesTexts(read.texts, opts.rules);
  if (!loaded.ok) return fail(loaded.code, formatIssues(loaded.code, loaded.issues));
  const rules = loaded.rules;
  if (rules.warnings.length > 0) process.stderr.write(formatWarnings(rules.warnings) + '\n');
  const pretty = opts.logFormat === undefined ? undefined : opts.logFormat === 'pretty';
  const log = createLogger({ level: opts.logLevel ?? rules.log.level, ...(pretty === undefined ? {} : { pretty }) });
  const privileges = planPrivileges(opts.user ?? rules.user, opts.group ?? rules.group, { allowRoot: opts.allowRoot, uid: process.getuid?.() });
  if (privileges.kind === 'refuse') return fail('PORTPLEX_ERR_ROOT', `PORTPLEX_ERR_ROOT: ${privileges.message}`);
  if (privileges.kind === 'ignore') log.info(privileges.message);
  const drop = privileges.kind === 'drop' ? privileges : undefined;
  const asked = dataplaneRequest(opts.dataplane, process.env['PORTPLEX_DATAPLANE'], rules.dataplane);
  if ('invalid' in asked) {
    process.stderr.write(`portplex run: ${asked.invalid}\n`);
    return 2;
  }
  // Chosen once here, so every worker runs the same one.
  const choice = chooseDataplane(asked, loadAddon, rules, { workers: Math.max(1, opts.workers) });
  if (!choice.ok) return fail('PORTPLEX_ERR_DATAPLANE_UNAVAILABLE', `PORTPLEX_ERR_DATAPLANE_UNAVAILABLE: ${choice.message}`, 1);
  const transparent = transparentRefusal(rules, { dataplane: choice.dataplane, netAdmin: hasNetAdmin() });
  if (transparent !== undefined) return fail('PORTPLEX_ERR_TRANSPARENT', `PORTPLEX_ERR_TRANSPARENT: ${transparent}`, 1);
  log.info({ dataplane: choice.dataplane, reason: choice.reason, asked: asked.ask, source: asked.source }, `data plane: ${choice.dataplane === 'native' ? 'native (the addon owns the TCP sockets)' : 'js (node:net owns the TCP sockets)'}`);

  // Metrics live where the connections are: in this process, or in each worker (collected on scrape).
  const local = opts.workers === 0 ? new PortplexMetrics() : undefined;
  const cluster = opts.workers === 0 ? undefined : new ClusterController(
          {
            count: opts.workers,
            source: opts.rules,
            drop,
            graceMs: opts.graceMs,
            env: {
              PORTPLEX_DATAPLANE: choice.dataplane,
              PORTPLEX_WORKERS: String(opts.workers),
              ...(opts.logLevel !== undefined ? { PORTPLEX_LOG_LEVEL: opts.logLevel } : {}),
              ...(opts.logFormat !== undefined ? { PORTPLEX_LOG_FORMAT: opts.logFormat } : {}),
            },
          },
          log,
        );
  const controller: Controller = cluster ?? new InProcessController(log, drop, local!, choice.dataplane);
  const supervisor = new Supervisor(controller, { source: opts.rules, graceMs: opts.graceMs, watch: opts.watch, debounceMs: 300, followLogLevel: opts.logLevel === undefined }, log, { texts: read.texts, rules });
  // Signals first: the listening ports answer before start() resolves, and a SIGTERM that comes
  // then must drain, not kill.
  wireSignals(log, supervisor, opts.graceMs);
  try {
    await supervisor.start();
  } catch (e) {
    const code = e instanceof PortplexError ? e.code : 'PORTPLEX_ERR_LISTEN';
    return fail(code, `${code}: ${(e as Error).message}`, 1);
  }
  const source: AdminSource = {
    metrics: () => (cluster ? collectWorkerMetrics(cluster.liveWorkers, 1000) : Promise.resolve(local!.registry)),
    state: () => ({
      rules: supervisor.currentRules,
      rulesSource: opts.rules,
      rulesLoadedAt: supervisor.rulesLoadedAt,
      reloads: supervisor.reloads,
      workers: controller.workers(),
      listenersBound: supervisor.isStarted && controller.workers().listening > 0,
      draining: supervisor.isDraining,
      dataplane: choice.dataplane,
    }),
  };
  const admin = new AdminHost(source, log);
  try {
    await admin.apply(rules.admin);
  } catch (e) {
    supervisor.abort();
    const code = e instanceof PortplexError ? e.code : 'PORTPLEX_ERR_LISTEN';
    return fail(code, `${code}: admin endpoint: ${(e as Error).message}`, 1);
  }
  supervisor.onReload((next) => admin.reapply(next.admin));
  announce(log, supervisor, opts, drop?.user);
  return -1;
}

function announce(log: Logger, supervisor: Supervisor, opts: RunOptions, user: string | undefined): void {
  const rules = supervisor.currentRules;
  for (const d of rules.demo) log.info({ demo: d.name, kind: d.kind, listen: formatHostPort(d.listen) }, 'demo backend listening (demo only)');
  for (const l of rules.listeners) log.info({ listener: l.name, address: formatHostPort(l), routes: rules.routes.length }, 'listening');
  const workers = opts.workers === 0 ? 'none (in this process)' : opts.workers;
  log.info({ rules: rules.files, workers, watch: opts.watch, ...(user !== undefined && opts.workers > 0 ? { workers_user: user } : {}) }, 'portplex running: SIGHUP reloads, SIGTERM drains');
}

function wireSignals(log: Logger, supervisor: Supervisor, graceMs: number): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      supervisor.abort();
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, grace_ms: graceMs }, 'stop signal: closing the listeners');
    void supervisor.drain(() => log.info({ signal, grace_ms: graceMs }, 'draining: no new connections')).then(() => {
      log.info('drained: exiting');
      log.flush();
      setTimeout(() => process.exit(0), 100).unref();
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => void supervisor.reload('SIGHUP'));
}
