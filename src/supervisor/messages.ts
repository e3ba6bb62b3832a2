/**
 * What the primary and its workers say to each other over the cluster IPC channel. Every message
 * type starts with "portplex:" so other users of the channel (prom-client's own cluster
 * messages) pass by untouched.
 */
import type { RulesText } from '../config/load.js';
import type { ErrorCode } from '../errors.js';
import type { PrivilegePlan } from './privileges.js';

export type DropPlan = Extract<PrivilegePlan, { kind: 'drop' }>;

/** Primary → worker. */
export type PrimaryMessage =
  /** Run these rules: the first set starts the worker, later ones reload it. */
  | { readonly type: 'portplex:rules'; readonly seq: number; readonly source: string; readonly texts: readonly RulesText[]; readonly drop: DropPlan | undefined; readonly graceMs: number }
  | { readonly type: 'portplex:drain'; readonly graceMs: number };

/** Worker → primary. */
export type WorkerMessage =
  /** The worker's message handler is installed: it can be sent its rules. */
  | { readonly type: 'portplex:hello' }
  /** Outcome of a `portplex:rules` message (start or reload). */
  | {
      readonly type: 'portplex:applied';
      readonly seq: number;
      readonly ok: boolean;
      readonly error?: string;
      /** The error's PORTPLEX_ERR_ code, when it has one. */
      readonly code?: ErrorCode;
      readonly added?: readonly string[];
      readonly removed?: readonly string[];
    }
  /** The worker got a stop signal of its own (Ctrl-C reaches the whole process group). */
  | { readonly type: 'portplex:draining' }
  /** Draining: this worker's listening sockets are closed (its share of the ports no longer accepts). */
  | { readonly type: 'portplex:not-accepting' };

function isTyped(m: unknown): m is { type: string } {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

export function isPrimaryMessage(m: unknown): m is PrimaryMessage {
  return isTyped(m) && (m.type === 'portplex:rules' || m.type === 'portplex:drain');
}

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return isTyped(m) && (m.type === 'portplex:hello' || m.type === 'portplex:applied' || m.type === 'portplex:draining' || m.type === 'portplex:not-accepting');
}
