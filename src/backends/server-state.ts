/** The live state of one server: up/down, connection counts, check and passive-failure counters. */
import type { ServerConfig } from '../config/types.js';
import type { ServerSnapshot, ServerStatus } from '../observe/snapshots.js';

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
