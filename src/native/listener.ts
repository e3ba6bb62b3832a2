/**
 * A TCP listener of the native data plane: the addon binds it (SO_REUSEPORT, so every worker has
 * its own accept queue) and accepts; every accepted connection becomes a NativeConnection.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ListenerConfig } from '../config/types.js';
import type { TcpListening } from '../engine/listener-set.js';
import type { Runtime } from '../engine/runtime.js';
import { PortplexError } from '../errors.js';
import { NativeConnection } from './connection.js';
import type { NativePlane } from './plane.js';

export interface NativeBoundListener extends TcpListening {
  /** The addon's id of the listening socket (a reload that keeps the address keeps it). */
  readonly handle: number;
}

const BACKLOG = 511;

export async function bindNativeListener(initial: ListenerConfig, runtime: () => Runtime, plane: NativePlane): Promise<NativeBoundListener> {
  let cfg = initial;
  // A name is looked up as node:net's listen() does (its first address).
  const host = isIP(cfg.host) !== 0 ? cfg.host : (await lookup(cfg.host)).address;
  let handle: number;
  try {
    handle = plane.addon.listen(host, cfg.port, BACKLOG, cfg.host === '::');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new PortplexError('PORTPLEX_ERR_LISTEN', `cannot listen on ${cfg.name}: ${code}`, { cause: e });
  }
  const connections = new Set<NativeConnection>();
  let idleWaiters: (() => void)[] = [];
  const gone = (c: NativeConnection): void => {
    connections.delete(c);
    if (connections.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };
  plane.listen(handle, {
    accept(conn, peer, local) {
      const rt = runtime();
      if (!rt.limits.admitSocket(cfg)) return void plane.close(conn);
      const c = new NativeConnection(plane, conn, cfg, rt, peer, local, gone);
      connections.add(c);
      c.start();
    },
    // EMFILE/ENFILE: the addon stops accepting a moment and resumes; every error is counted and logged, never fatal.
    acceptError: (errno) => runtime().limits.note('accept-error', cfg.name, plane.errnoName(errno)),
  });
  const address = { address: host, family: isIP(host) === 6 ? 'IPv6' : 'IPv4', port: plane.addon.listenerPort(handle) };
  let accepting = true;
  const stopAccepting = (): void => {
    if (!accepting) return;
    accepting = false;
    plane.unlisten(handle);
  };
  const startAccepting = (): void => {
    if (accepting) plane.addon.acceptOn(handle);
  };
  const idle = (): Promise<void> => (connections.size === 0 ? Promise.resolve() : new Promise<void>((done) => idleWaiters.push(done)));
  return {
    get config() {
      return cfg;
    },
    handle,
    address,
    reconfigure(next) {
      cfg = next;
    },
    open: () => connections.size,
    cut() {
      for (const c of [...connections]) c.cut();
    },
    stopAccepting,
    startAccepting,
    idle,
    close() {
      stopAccepting();
      return idle();
    },
  };
}
