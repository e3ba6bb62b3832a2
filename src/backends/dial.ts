/** Opens one TCP connection to a server with a connect timeout. Never throws; always reports once. */
import type { Socket } from 'node:net';
import type { ServerConfig } from '../config/types.js';
import { connectWithTimeout } from '../net/connect.js';

export type DialResult = { ok: true; socket: Socket } | { ok: false; error: string };

export interface DialOptions {
  readonly timeoutMs: number;
  readonly noDelay: boolean;
  readonly keepAliveMs: number | undefined;
  /** Told when a socket option could not be applied: optional features never fail a connection. */
  readonly onOptionError?: (option: string, error: unknown) => void;
}

/** Returns an abort: used when the client goes away while we are still connecting. */
export function dial(server: Pick<ServerConfig, 'host' | 'port'>, opts: DialOptions, done: (r: DialResult) => void): () => void {
  return connectWithTimeout({ host: server.host, port: server.port, timeoutMs: opts.timeoutMs, allowHalfOpen: true }, (r) => {
    if (!r.ok) {
      done({ ok: false, error: r.kind === 'timeout' ? `connect timeout after ${opts.timeoutMs}ms` : r.kind === 'aborted' ? 'aborted' : r.error });
      return;
    }
    applyOption('nodelay', () => r.socket.setNoDelay(opts.noDelay), opts);
    if (opts.keepAliveMs !== undefined) applyOption('keepalive', () => r.socket.setKeepAlive(true, opts.keepAliveMs), opts);
    done({ ok: true, socket: r.socket });
  });
}

function applyOption(name: string, apply: () => void, opts: DialOptions): void {
  try {
    apply();
  } catch (e) {
    opts.onOptionError?.(name, e);
  }
}
