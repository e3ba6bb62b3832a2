/** Opens one TCP connection to a server with a connect timeout. Never throws; always reports once. */
import { connect, type Socket } from 'node:net';
import type { ServerConfig } from '../config/types.js';

export type DialResult = { ok: true; socket: Socket } | { ok: false; error: string };

export function dial(server: ServerConfig, timeoutMs: number, done: (r: DialResult) => void): () => void {
  const socket = connect({ host: server.host, port: server.port, allowHalfOpen: true, noDelay: true });
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
  const onConnect = (): void => finish({ ok: true, socket });
  const onError = (e: NodeJS.ErrnoException): void => finish({ ok: false, error: e.code ?? e.message });
  const timer = setTimeout(() => finish({ ok: false, error: `connect timeout after ${timeoutMs}ms` }), timeoutMs);
  socket.once('connect', onConnect);
  socket.on('error', onError);
  // Abort: used when the client goes away while we are still connecting.
  return () => finish({ ok: false, error: 'aborted' });
}
