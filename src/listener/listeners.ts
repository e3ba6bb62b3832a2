/** One net.Server per bind address; every accepted socket becomes a Connection. */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ListenerConfig } from '../config/types.js';
import type { TcpListening } from '../engine/listener-set.js';
import type { Runtime } from '../engine/runtime.js';
import { PortplexError } from '../errors.js';
import { Connection } from './connection.js';

export interface BoundListener extends TcpListening {
  readonly server: Server;
  readonly address: AddressInfo;
  /** Client sockets accepted and not yet closed (for drain). */
  readonly sockets: ReadonlySet<Socket>;
}

export function bindListener(initial: ListenerConfig, runtime: () => Runtime): Promise<BoundListener> {
  let cfg = initial;
  const sockets = new Set<Socket>();
  /** Told when the last accepted socket closes (a retired listener waits for that). */
  let idleWaiters: (() => void)[] = [];
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const rt = runtime();
    if (!rt.limits.admitSocket(cfg)) {
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size > 0) return;
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    });
    new Connection(socket, cfg, rt).start();
  });
  return new Promise((resolve, reject) => {
    const onListenError = (e: NodeJS.ErrnoException): void => {
      reject(new PortplexError('PORTPLEX_ERR_LISTEN', `cannot listen on ${cfg.name}: ${e.code ?? e.message}`, { cause: e }));
    };
    server.once('error', onListenError);
    server.listen({ host: cfg.host, port: cfg.port, ipv6Only: cfg.host === '::', backlog: 511 }, () => {
      server.removeListener('error', onListenError);
      // EMFILE/ENFILE on accept: libuv sheds pending connections itself (its reserve-descriptor
      // trick) and keeps listening, so accepting resumes once descriptors free up. Any accept
      // error that does reach us is counted and logged, never fatal.
      server.on('error', (e: NodeJS.ErrnoException) => runtime().limits.note('accept-error', cfg.name, e.code ?? e.message));
      const address = server.address() as AddressInfo;
      let accepting = true;
      let closing: Promise<void> | undefined;
      resolve({
        get config() {
          return cfg;
        },
        server,
        address,
        sockets,
        reconfigure(next) {
          cfg = next;
        },
        open: () => sockets.size,
        cut() {
          for (const s of sockets) s.destroy();
        },
        stopAccepting() {
          if (!accepting) return;
          accepting = false;
          server.close();
        },
        idle: () => (sockets.size === 0 ? Promise.resolve() : new Promise<void>((done) => idleWaiters.push(done))),
        close() {
          accepting = false;
          return (closing ??= closeServer(server));
        },
      });
    });
  });
}

/** Resolves once the server has stopped listening and its accepted connections have closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
