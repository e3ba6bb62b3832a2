/**
 * What the admin endpoint is told about the process it serves: the rules now running, reloads,
 * workers, and whether the listeners are up. The primary (or the single process) fills it in;
 * the endpoint only reads it.
 */
import type { Registry } from 'prom-client';
import type { RulesConfig } from '../config/types.js';
import type { Dataplane } from '../native/choose.js';

export interface AdminState {
  /** The rules now running. */
  readonly rules: RulesConfig;
  /** The file or directory they came from. */
  readonly rulesSource: string;
  readonly rulesLoadedAt: Date;
  /**
   * Rule reloads since start, by result. `lastError` is the message of the last reload when it
   * failed, and undefined once one succeeds (the running rules are then `rules`); `lastAt` is
   * when the last one was attempted, undefined before the first.
   */
  readonly reloads: { readonly ok: number; readonly failed: number; readonly lastError: string | undefined; readonly lastAt: Date | undefined };
  /** Worker processes wanted, listening now, and restarted after they died (a single process: 1, 1, 0). */
  readonly workers: { readonly wanted: number; readonly listening: number; readonly restarts: number };
  readonly listenersBound: boolean;
  /** Shutting down: established connections finish, no new ones are accepted. */
  readonly draining: boolean;
  /** Who owns the TCP sockets: the native addon or node:net (chosen at start, for every worker). */
  readonly dataplane: Dataplane;
}

export interface AdminSource {
  /** The connection metrics: the process's own registry, or the workers' aggregated. */
  metrics(): Promise<Registry>;
  state(): AdminState;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not, one reason each; empty when ready. */
  readonly reasons: readonly string[];
}

/** Ready = able to take connections now: listeners bound, not draining, at least one worker listening. */
export function readiness(s: AdminState): Readiness {
  const reasons: string[] = [];
  if (!s.listenersBound) reasons.push('listeners are not bound');
  if (s.draining) reasons.push('draining: shutting down, not accepting new connections');
  if (s.workers.listening < 1) reasons.push(`no worker is listening (0 of ${s.workers.wanted} wanted)`);
  return { ready: reasons.length === 0, reasons };
}
