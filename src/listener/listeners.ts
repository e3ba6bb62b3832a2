/** One net.Server per bind address; every accepted socket becomes a Connection. */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ListenerConfig } from '../config/types.js';
import { PortplexError } from '../errors.js';
import { Connection } from './connection.js';
import type { Runtime } from './runtime.js';

export interface BoundListener {
  /** The listener's settings; a reload may change them (PROXY trust, caps) without re-binding. */
  readonly config: ListenerConfig;
  readonly server: Server;
  readonly address: AddressInfo;
  /** Client sockets accepted and not yet closed (for drain). */
  readonly sockets: ReadonlySet<Socket>;
  /** New settings for the same address, used from the next accepted connection on. */
  reconfigure(config: ListenerConfig): void;
}

/** Binds every listener or none: on the first failure the ones already bound are closed again. */
export async function bindListeners(configs: readonly ListenerConfig[], runtime: () => Runtime): Promise<BoundListener[]> {
  const bound: BoundListener[] = [];
  try {
    for (const cfg of configs) bound.push(await bindOne(cfg, runtime));
  } catch (e) {
    await Promise.all(bound.map((b) => closeServer(b.server)));
    throw e;
  }
  return bound;
}

/** What identifies a listening socket: a reload keeps a listener whose key is unchanged. */
export function listenerKey(cfg: ListenerConfig): string {
  // Port 0 (any free port, used in tests) is no address: two such listeners are told apart by name.
  // TCP and UDP on the same port are two sockets.
  return cfg.port === 0 ? `${cfg.transport}|${cfg.host}|0|${cfg.name}` : `${cfg.transport}|${cfg.host}|${cfg.port}`;
}

function bindOne(initial: ListenerConfig, runtime: () => Runtime): Promise<BoundListener> {
  let cfg = initial;
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const rt = runtime();
    if (!rt.limits.admitSocket(cfg)) {
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
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
      });
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
