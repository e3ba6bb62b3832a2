/** The live state of one server: up/down, connection counts, check and passive-failure counters. */
import type { ServerConfig } from '../config/types.js';

export type ServerStatus = 'up' | 'down';

export interface ServerSnapshot {
  readonly address: string;
  readonly backup: boolean;
  readonly weight: number;
  readonly status: ServerStatus;
  /** Why it is down (last check or passive failure), when it is. */
  readonly reason: string | undefined;
  readonly active: number;
  readonly total: number;
  readonly failedConnects: number;
  readonly lastCheck: { readonly ok: boolean; readonly detail: string; readonly at: number } | undefined;
  readonly lastChange: number;
}

export class ServerState {
  status: ServerStatus = 'up';
  downBy: 'check' | 'passive' | undefined;
  reason: string | undefined;
  active = 0;
  total = 0;
  failedConnects = 0;
  /** Consecutive connect failures (passive) and consecutive check results (active). */
  consecutiveConnectFailures = 0;
  checkSuccesses = 0;
  checkFailures = 0;
  lastCheck: ServerSnapshot['lastCheck'];
  lastChange = Date.now();
  /** Passively downed without active checks: eligible again after this time. */
  retryAfter = 0;
  /** Smooth weighted round-robin state (nginx's algorithm). */
  currentWeight = 0;

  constructor(readonly config: ServerConfig) {}

  get available(): boolean {
    return this.status === 'up' && (this.config.maxConnections === 0 || this.active < this.config.maxConnections);
  }

  snapshot(): ServerSnapshot {
    return {
      address: this.config.address,
      backup: this.config.backup,
      weight: this.config.weight,
      status: this.status,
      reason: this.reason,
      active: this.active,
      total: this.total,
      failedConnects: this.failedConnects,
      lastCheck: this.lastCheck,
      lastChange: this.lastChange,
    };
  }
}
