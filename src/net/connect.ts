/**
 * A TCP connect bounded in time: the one way backend dials, health checks and doctor's probes
 * open a connection. Reports exactly once, and the socket is destroyed on every failure; each
 * caller words the failure its own way (its log and detail strings predate this module).
 */
import { connect, type Socket } from 'node:net';

export type ConnectFailure =
  | { readonly ok: false; readonly kind: 'timeout' }
  /** `error` is the errno code (ECONNREFUSED...) when there is one, else the message. */
  | { readonly ok: false; readonly kind: 'error'; readonly error: string }
  | { readonly ok: false; readonly kind: 'aborted' };

export type ConnectResult = { readonly ok: true; readonly socket: Socket } | ConnectFailure;

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly allowHalfOpen?: boolean;
  readonly noDelay?: boolean;
  /** Makes the socket (tests pass one that never connects); default node:net connect. */
  readonly open?: (opts: { host: string; port: number; allowHalfOpen: boolean; noDelay: boolean }) => Socket;
}

/**
 * Connects, then hands over the socket with none of this function's listeners left on it (the
 * caller adds its own error handler at once). Returns an abort (the client went away meanwhile).
 */
export function connectWithTimeout(opts: ConnectOptions, done: (r: ConnectResult) => void): () => void {
  let socket: Socket;
  try {
    socket = (opts.open ?? connect)({ host: opts.host, port: opts.port, allowHalfOpen: opts.allowHalfOpen ?? false, noDelay: opts.noDelay ?? false });
  } catch (e) {
    // Invalid options (a port out of range...) throw synchronously: still reported later, once.
    let aborted = false;
    process.nextTick(() => aborted || done({ ok: false, kind: 'error', error: (e as Error).message }));
    return () => {
      if (aborted) return;
      aborted = true;
      done({ ok: false, kind: 'aborted' });
    };
  }
  let settled = false;
  const finish = (r: ConnectResult): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeListener('connect', onConnect);
    socket.removeListener('error', onError);
    if (!r.ok) socket.destroy();
    done(r);
  };
  const onConnect = (): void => finish({ ok: true, socket });
  const onError = (e: NodeJS.ErrnoException): void => finish({ ok: false, kind: 'error', error: e.code ?? e.message });
  const timer = setTimeout(() => finish({ ok: false, kind: 'timeout' }), opts.timeoutMs);
  socket.once('connect', onConnect);
  socket.on('error', onError);
  return () => finish({ ok: false, kind: 'aborted' });
}
