/** Opens one TCP connection to a server with a connect timeout. Never throws; always reports once. */
import { connect, type Socket } from 'node:net';
import type { ServerConfig } from '../config/types.js';

export type DialResult = { ok: true; socket: Socket } | { ok: false; error: string };

export interface DialOptions {
  readonly timeoutMs: number;
  readonly noDelay: boolean;
  readonly keepAliveMs: number | undefined;
  /** Told when a socket option could not be applied: optional features never fail a connection. */
  readonly onOptionError?: (option: string, error: unknown) => void;
}

export function dial(server: Pick<ServerConfig, 'host' | 'port'>, opts: DialOptions, done: (r: DialResult) => void): () => void {
  const socket = connect({ host: server.host, port: server.port, allowHalfOpen: true });
  let settled = false;
  const finish = (r: DialResult): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeListener('connect', onConnect);
    socket.removeListener('error', onError);
    if (!r.ok) socket.destroy();
    done(r);
  };
  const onConnect = (): void => {
    applyOption(socket, 'nodelay', () => socket.setNoDelay(opts.noDelay), opts);
    if (opts.keepAliveMs !== undefined) applyOption(socket, 'keepalive', () => socket.setKeepAlive(true, opts.keepAliveMs), opts);
    finish({ ok: true, socket });
  };
  const onError = (e: NodeJS.ErrnoException): void => finish({ ok: false, error: e.code ?? e.message });
  const timer = setTimeout(() => finish({ ok: false, error: `connect timeout after ${opts.timeoutMs}ms` }), opts.timeoutMs);
  socket.once('connect', onConnect);
  socket.on('error', onError);
  // Abort: used when the client goes away while we are still connecting.
  return () => finish({ ok: false, error: 'aborted' });
}

function applyOption(socket: Socket, name: string, apply: () => void, opts: DialOptions): void {
  try {
    apply();
  } catch (e) {
    opts.onOptionError?.(name, e);
  }
  void socket;
}
