/**
 * Joins a client and a backend socket: writes the PROXY header and the replayed bytes in one
 * write, before any later client byte, then pipes both ways with backpressure. Half-close is
 * honoured (each side's FIN is passed on and the other direction keeps flowing); an error or
 * the idle timeout on either side closes both. Reports exactly once, when both sockets closed.
 */
import type { Socket } from 'node:net';

export type CloseReason = 'done' | 'client-error' | 'backend-error' | 'idle-timeout' | 'proxy-refused';

/** Hold on, let the bytes through, or close both sides with this detail. */
export type GuardVerdict = 'wait' | 'ok' | { readonly refuse: string };

export interface SpliceOptions {
  readonly idleMs: number;
  /**
   * When the route was decided before the client's first bytes could be checked (a route that
   * needs no bytes), the first bytes that arrive are shown to this guard before any reaches the
   * backend: a refusal closes both sides (with its detail), 'ok' starts the pipe.
   */
  readonly guard?: SpliceGuard;
}

export interface SpliceGuard {
  readonly check: (bytes: Buffer) => GuardVerdict;
  /** Bytes already read that the guard must see before they may go to the backend. */
  readonly held: Buffer;
}

export function splice(client: Socket, backend: Socket, head: Buffer | undefined, opts: SpliceOptions, done: (reason: CloseReason, detail?: string) => void): void {
  let reason: CloseReason | undefined;
  let detail: string | undefined;
  let open = 2;
  // One idle timer per connection, re-armed lazily: a chunk only stamps `lastActive` (no timer
  // refresh per chunk and per socket, as socket.setTimeout on both sides would do four times per
  // forwarded chunk), and the timer, when it fires, sleeps again for whatever is left.
  let lastActive = performance.now();
  let idleTimer: NodeJS.Timeout | undefined;
  const fail = (r: CloseReason, d?: string): void => {
    if (reason === undefined) {
      reason = r;
      detail = d;
    }
    client.destroy();
    backend.destroy();
  };
  const onClose = (): void => {
    if (--open > 0) return;
    clearTimeout(idleTimer);
    done(reason ?? 'done', detail);
  };
  const checkIdle = (): void => {
    const quiet = performance.now() - lastActive;
    if (quiet >= opts.idleMs) fail('idle-timeout');
    else idleTimer = setTimeout(checkIdle, opts.idleMs - quiet);
  };
  idleTimer = setTimeout(checkIdle, opts.idleMs);
  client.on('error', (e: NodeJS.ErrnoException) => {
    // A client that already sent its FIN and then resets (it closed while the backend's last
    // bytes, e.g. a TLS close_notify, were in flight) ended normally as far as it is concerned.
    if (client.readableEnded && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) fail('done', `client reset after its FIN (${e.code})`);
    else fail('client-error', e.code ?? e.message);
  });
  backend.on('error', (e: NodeJS.ErrnoException) => {
    // The same the other way: a server that sent its FIN and then resets (our last bytes, e.g. the
    // client's TLS close_notify, reached a socket it had closed) ended normally.
    if (backend.readableEnded && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) fail('done', `server reset after its FIN (${e.code})`);
    else fail('backend-error', e.code ?? e.message);
  });
  client.once('close', onClose);
  backend.once('close', onClose);

  /**
   * src -> dst with backpressure and half-close: what stream.pipe does for two sockets, without
   * its unpipe bookkeeping (eight closures and listeners per direction); errors and closes are
   * handled above for both sockets at once.
   */
  const forward = (src: Socket, dst: Socket): void => {
    src.on('data', (chunk: Buffer) => {
      lastActive = performance.now();
      if (!dst.write(chunk)) src.pause();
    });
    dst.on('drain', () => src.resume());
    // A FIN is passed on after the bytes before it; the other direction keeps flowing. A client
    // may have sent its FIN during inspection, before this pipe existed.
    if (src.readableEnded) dst.end();
    else src.on('end', () => dst.end());
  };

  if (head !== undefined && head.length > 0) backend.write(head);
  forward(backend, client);
  if (opts.guard === undefined) {
    forward(client, backend);
    client.resume();
    return;
  }
  const guard = opts.guard;
  let held: Buffer = guard.held;
  const release = (): void => {
    client.removeListener('data', onGuardData);
    client.removeListener('end', onGuardEnd);
    client.pause();
    if (held.length > 0) backend.write(held);
    forward(client, backend);
    client.resume();
  };
  const onGuardData = (chunk: Buffer): void => {
    lastActive = performance.now();
    held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    const v = guard.check(held);
    if (v === 'ok') release();
    else if (v !== 'wait') fail('proxy-refused', v.refuse);
  };
  const onGuardEnd = (): void => release();
  // The client already finished sending: nothing more can arrive to complete a signature.
  if (client.readableEnded) {
    release();
    return;
  }
  client.on('data', onGuardData);
  client.on('end', onGuardEnd);
  client.resume();
}
