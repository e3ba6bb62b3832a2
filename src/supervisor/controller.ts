/**
 * What the supervisor (signals, file watching, admin endpoint) drives: portplex in this process,
 * or a cluster of worker processes. Both take rules as the texts read from disk, so every worker
 * runs exactly the rules the primary checked, even if the files change again meanwhile.
 */
import type { RulesText } from '../config/load.js';
import type { RulesConfig } from '../config/types.js';
import type { ErrorCode } from '../errors.js';

export interface WorkerStatus {
  /** Worker processes wanted (0: everything runs in the supervisor's own process, counted as 1). */
  readonly wanted: number;
  /** Workers running the current rules with their listeners bound. */
  readonly listening: number;
  /** Workers started again after one died. */
  readonly restarts: number;
}

export interface ApplyOutcome {
  readonly ok: boolean;
  readonly error?: string;
  /** The error's PORTPLEX_ERR_ code, when it has one. */
  readonly code?: ErrorCode;
  /** Listener names opened, closed and kept by a reload (as one worker reported them). */
  readonly added?: readonly string[];
  readonly removed?: readonly string[];
}

export interface Controller {
  /** Starts with these rules; rejects with a PortplexError when they cannot be served (a bind failure). */
  start(texts: readonly RulesText[], rules: RulesConfig): Promise<void>;
  /** New rules for new connections; on failure the running rules stay everywhere. */
  reload(texts: readonly RulesText[], rules: RulesConfig): Promise<ApplyOutcome>;
  /**
   * Stops accepting (then calls `notAccepting`) and lets connections finish for up to graceMs;
   * resolves when everything has stopped.
   */
  drain(graceMs: number, notAccepting: () => void): Promise<void>;
  /** Ends everything at once (a second stop signal). */
  abort(): void;
  workers(): WorkerStatus;
}
