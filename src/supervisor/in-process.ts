/** portplex in the supervisor's own process (`--workers 0`): no IPC, privileges dropped after binding. */
import { metricsSources, startPortplex, type RunningPortplex } from '../app.js';
import type { RulesText } from '../config/load.js';
import type { RulesConfig } from '../config/types.js';
import type { PortplexMetrics } from '../observe/metrics.js';
import type { Logger } from '../observe/logger.js';
import type { ApplyOutcome, Controller, WorkerStatus } from './controller.js';
import type { DropPlan } from './messages.js';
import { dropPrivileges } from './privileges.js';
import { PortplexError } from '../errors.js';
import { readTokenFile } from '../config/admin-token.js';
import type { Dataplane } from '../native/choose.js';
import type { NativeAddon } from '../native/addon.js';
import { capabilitiesToKeep } from './keep-capabilities.js';

export class InProcessController implements Controller {
  private running: RunningPortplex | undefined;

  constructor(
    private readonly log: Logger,
    private readonly drop: DropPlan | undefined,
    private readonly metrics: PortplexMetrics,
    private readonly dataplane: Dataplane,
  ) {}

  get portplex(): RunningPortplex | undefined {
    return this.running;
  }

  async start(_texts: readonly RulesText[], rules: RulesConfig): Promise<void> {
    const drop = this.drop;
    // Bound as the starting user (root, for :443), switched before the first accept.
    const afterBind = drop === undefined ? undefined : (addon: NativeAddon | undefined): void => {
      try {
        dropPrivileges(drop, capabilitiesToKeep(rules, addon));
      } catch (e) {
        throw new PortplexError('PORTPLEX_ERR_ROOT', `cannot switch to user "${drop.user}": ${(e as Error).message}`);
      }
      this.log.info({ user: drop.user, group: drop.group }, 'privileges dropped after binding');
    };
    this.running = await startPortplex(rules, this.log, { observer: this.metrics, dataplane: this.dataplane, ...(afterBind ? { afterBind } : {}) });
    this.metrics.setSources(metricsSources(this.running));
    if (drop !== undefined) {
      // Every reload re-reads admin.token_file, now as this user: a file only root could read
      // would refuse every later reload, so say it now, while the admin is watching the start.
      const tokenFile = rules.admin?.tokenFile;
      const read = tokenFile === undefined ? undefined : readTokenFile(tokenFile.path);
      if (read !== undefined && !read.ok) {
        await this.running.close();
        throw new PortplexError('PORTPLEX_ERR_ROOT', `${read.message}: after switching to user "${drop.user}" it cannot be read, so no reload could succeed; make it readable by that user (chown or chgrp, mode 0640)`);
      }
    }
  }

  /** Here the rules the supervisor compiled are used as they are; the texts matter only to workers. */
  async reload(_texts: readonly RulesText[], rules: RulesConfig): Promise<ApplyOutcome> {
    if (this.running === undefined) return { ok: false, error: 'not running' };
    return this.running.reload(rules);
  }

  async drain(graceMs: number, notAccepting: () => void): Promise<void> {
    await this.running?.stopAccepting();
    notAccepting();
    const cut = (await this.running?.drain(graceMs)) ?? 0;
    this.log.info({ closed_at_deadline: cut }, 'drained');
  }

  abort(): void {
    void this.running?.close();
  }

  workers(): WorkerStatus {
    // The one process does the work of the one worker.
    return { wanted: 1, listening: this.running === undefined ? 0 : 1, restarts: 0 };
  }
}
