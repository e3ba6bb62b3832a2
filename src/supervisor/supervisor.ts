/**
 * The long-running part of `portplex run`: starts the controller (in-process or workers), reloads
 * on SIGHUP and on rule-file changes, drains on SIGTERM/SIGINT, and keeps the state the admin
 * endpoint reports. A reload re-reads and checks the rules first; rules that do not compile, or
 * that cannot be served (a port already taken), are refused and the running ones stay.
 */
import { compileRulesTexts, formatIssues, formatWarnings, readRulesSource, type RulesText } from '../config/load.js';
import type { RulesConfig } from '../config/types.js';
import type { Logger } from '../observe/logger.js';
import type { Controller } from './controller.js';
import { watchRules, type RulesWatcher } from './rules-watch.js';

export interface SupervisorOptions {
  readonly source: string;
  readonly graceMs: number;
  /** Reload when the rule files change on disk (debounced). */
  readonly watch: boolean;
  readonly debounceMs: number;
  /** Apply `log.level` from reloaded rules (false when --log-level overrides it). */
  readonly followLogLevel: boolean;
}

export interface ReloadStats {
  readonly ok: number;
  readonly failed: number;
  readonly lastError: string | undefined;
  readonly lastAt: Date | undefined;
}

export type ReloadTrigger = 'SIGHUP' | 'file change' | 'admin';

export class Supervisor {
  private texts: readonly RulesText[];
  private rules: RulesConfig;
  private loadedAt = new Date();
  private stats: ReloadStats = { ok: 0, failed: 0, lastError: undefined, lastAt: undefined };
  private watcher: RulesWatcher | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private draining = false;
  private started = false;
  private starting: Promise<void> | undefined;
  private readonly reloadHooks: ((rules: RulesConfig) => Promise<void>)[] = [];

  constructor(
    private readonly controller: Controller,
    private readonly opts: SupervisorOptions,
    private readonly log: Logger,
    initial: { readonly texts: readonly RulesText[]; readonly rules: RulesConfig },
  ) {
    this.texts = initial.texts;
    this.rules = initial.rules;
  }

  get currentRules(): RulesConfig {
    return this.rules;
  }

  get rulesLoadedAt(): Date {
    return this.loadedAt;
  }

  get reloads(): ReloadStats {
    return this.stats;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  get isStarted(): boolean {
    return this.started;
  }

  start(): Promise<void> {
    this.starting ??= this.startNow();
    return this.starting;
  }

  private async startNow(): Promise<void> {
    await this.controller.start(this.texts, this.rules);
    this.started = true;
    this.loadedAt = new Date();
    if (this.opts.watch) {
      this.watcher = watchRules(
        this.opts.source,
        this.opts.debounceMs,
        () => void this.reload('file change'),
        (e) => this.log.warn({ err: e.message, rules: this.opts.source }, 'watching the rule files failed; retrying (SIGHUP still reloads)'),
      );
    }
  }

  /** Called after each successful reload (the admin endpoint follows `admin:`). */
  onReload(hook: (rules: RulesConfig) => Promise<void>): void {
    this.reloadHooks.push(hook);
  }

  /** Re-reads the rules and applies them if they compile; one reload at a time, in order. */
  reload(trigger: ReloadTrigger): Promise<boolean> {
    const run = this.queue.then(() => this.reloadNow(trigger));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(trigger: ReloadTrigger): Promise<boolean> {
    // A SIGHUP during start-up reloads once the start is done (or does nothing if it failed).
    await this.starting?.catch(() => undefined);
    if (this.draining || !this.started) return false;
    const read = readRulesSource(this.opts.source);
    if (!read.ok) {
      this.refused(trigger, formatIssues(read.code, read.issues), read.code);
      return false;
    }
    if (trigger === 'file change' && sameTexts(read.texts, this.texts)) return true; // a save that changed nothing
    // Whatever comes of them, these texts have been seen: a later event reports them again only if they change.
    this.texts = read.texts;
    const loaded = compileRulesTexts(read.texts, this.opts.source);
    if (!loaded.ok) {
      this.refused(trigger, formatIssues(loaded.code, loaded.issues), loaded.code);
      return false;
    }
    if (loaded.rules.warnings.length > 0) this.log.warn({ warnings: formatWarnings(loaded.rules.warnings).split('\n') }, 'rule warnings');
    const outcome = await this.controller.reload(read.texts, loaded.rules);
    if (!outcome.ok) {
      this.refused(trigger, outcome.error ?? 'unknown error', outcome.code ?? 'PORTPLEX_ERR_LISTEN');
      return false;
    }
    this.rules = loaded.rules;
    if (this.opts.followLogLevel) this.log.level = loaded.rules.log.level;
    this.loadedAt = new Date();
    this.stats = { ...this.stats, ok: this.stats.ok + 1, lastAt: this.loadedAt, lastError: undefined };
    for (const hook of this.reloadHooks) await hook(loaded.rules);
    this.log.info(
      { trigger, rules: loaded.rules.files, routes: loaded.rules.routes.length, listeners_added: outcome.added, listeners_removed: outcome.removed, workers: this.controller.workers().listening },
      'rules reloaded: new connections use them, established ones keep theirs',
    );
    return true;
  }

  private refused(trigger: ReloadTrigger, problems: string, code: string): void {
    this.stats = { ...this.stats, failed: this.stats.failed + 1, lastError: problems, lastAt: new Date() };
    this.log.error({ trigger, code, problems: problems.split('\n') }, 'reload refused: the running rules stay');
  }

  async drain(notAccepting: () => void = () => undefined): Promise<void> {
    this.draining = true;
    // A stop signal during start-up drains what the start brings up.
    await this.starting?.catch(() => undefined);
    this.watcher?.close();
    await this.queue;
    await this.controller.drain(this.opts.graceMs, notAccepting);
  }

  abort(): void {
    this.watcher?.close();
    this.controller.abort();
  }
}

function sameTexts(a: readonly RulesText[], b: readonly RulesText[]): boolean {
  return a.length === b.length && a.every((t, i) => t.file === b[i]!.file && t.text === b[i]!.text);
}
