/**
 * What a connection reports when it closes, for metrics. The listener fills it in; the metrics
 * module counts it. Kept apart from both so neither imports the other.
 */
import type { CloseReason } from './close-line.js';

export interface ConnectionRecord {
  readonly listener: string;
  /** Route that took the connection; undefined when none did (no-route, refused before routing). */
  readonly route: string | undefined;
  /** Backend, or undefined for forward-proxy tunnels and unrouted connections. */
  readonly backend: string | undefined;
  /** Server address ("127.0.0.1:8080") that served it, when one did. */
  readonly server: string | undefined;
  /** The close reason of the log line (close-line.ts): the metrics' `outcome` label. */
  readonly reason: CloseReason;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  /** Milliseconds from the accept to the route decision; undefined if never decided. */
  readonly decideMs: number | undefined;
  /** Bytes peeked before the decision. */
  readonly peeked: number;
}

/** Receives every closed connection (the metrics module implements it). */
export interface ConnectionObserver {
  connectionClosed(record: ConnectionRecord): void;
}
