/**
 * Read-only views of live state that metrics and status pages read at scrape time. They live
 * here, with their readers, so observe/ imports nothing above it: the backends produce these
 * shapes, and the UDP flow table's counters fit the view the metrics read.
 */
import type { BackendConfig } from '../config/types.js';

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

export interface BackendSnapshot {
  readonly name: string;
  readonly balance: BackendConfig['balance'];
  readonly up: number;
  readonly servers: readonly ServerSnapshot[];
}

/** The UDP flow table's cumulative counters, as the metrics read them (the labels are its drop reasons). */
export interface UdpStatsView {
  readonly evicted: number;
  readonly expired: number;
  readonly migrated: number;
  readonly dropped: ReadonlyMap<string, number>;
}
