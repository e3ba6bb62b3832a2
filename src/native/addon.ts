/**
 * The native data plane's addon (native/portplex.c, built by node-gyp into
 * build/Release/portplex.node) and how it is loaded. The addon owns TCP sockets from listen to
 * close and moves bytes (splice(2) through a shared pipe pool); it never parses a protocol and
 * decides nothing: every decision is this process's TypeScript, called once per event below.
 *
 * Identifiers are plain numbers (a slot and a generation, so a stale one never names a newer
 * connection); every call naming a connection that is gone is a no-op.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

/** Why the addon closed a connection by itself (the `reason` of a closed report). */
export enum NativeClose {
  /** Both directions ended with a FIN and everything was delivered. */
  Done = 0,
  /** A read or write on the client failed (`errno` says how). */
  ClientError = 1,
  /** A read or write on the backend failed. */
  BackendError = 2,
  /** Nothing moved either way for the relay's idle time. */
  IdleTimeout = 3,
  /** A `respond()` answer was written and the client went away (or its linger ran out). */
  Responded = 4,
  /** The client reset (ECONNRESET/EPIPE) after it had sent its FIN: a normal end for it. */
  ClientResetAfterFin = 5,
  /** The backend reset after it had sent its FIN. */
  BackendResetAfterFin = 6,
}

/** What the addon calls, always on the main thread, from its libuv poll callbacks. */
export interface NativeHandlers {
  /** A connection was accepted on `listener`. Call close(conn) to refuse it. */
  accept(listener: number, conn: number, peerAddress: string, peerPort: number, localAddress: string, localPort: number): void;
  /** `length` client bytes are in the shared read buffer (init's), valid only during this call. */
  data(conn: number, length: number): void;
  /** The client sent its FIN while its bytes were still being read by JS (inspection, or a held relay). */
  end(conn: number): void;
  /** The backend connect of `conn` ended: `errno` 0 is success, -1 the timeout, else the errno. */
  connected(conn: number, errno: number): void;
  /** Connections the addon closed by itself since the last report: 5 numbers each, see CLOSED_FIELDS. */
  closed(records: Float64Array, count: number): void;
  /** accept(2) failed with `errno` other than EAGAIN/EINTR/ECONNABORTED (EMFILE: accepting pauses, then resumes). */
  acceptError(listener: number, errno: number): void;
}

/** Per closed record: [conn, reason (NativeClose), errno, bytes from client, bytes to client]. */
export const CLOSED_FIELDS = 5;

export interface NativeAddon {
  /** Once per process: the handlers, and the buffer `data` reports bytes in (its size bounds one read). */
  init(handlers: NativeHandlers, readBuffer: Buffer, counters: Float64Array): void;
  /**
   * socket, SO_REUSEADDR + SO_REUSEPORT, bind, listen; throws an Error with `code` (EADDRINUSE, EACCES, ...).
   * The kernel queues connections from here on, but none is accepted before acceptOn(): privileges
   * are dropped, and a reload's listeners put in force, between the two.
   */
  listen(host: string, port: number, backlog: number, ipv6Only: boolean): number;
  /** Starts accepting on a listener (idempotent). */
  acceptOn(listener: number): void;
  /** The port a listener is bound to (its own port 0 was resolved by the kernel). */
  listenerPort(listener: number): number;
  /** Stops accepting and closes the listening socket; connections it accepted go on. */
  closeListener(listener: number): void;
  /** Stops reading the client (the route is decided; bytes wait in the kernel for the relay). */
  pauseClient(conn: number): void;
  /**
   * A non-blocking connect to an IP literal with a timeout; `connected` reports once. keepAliveMs
   * 0: no keepalive. `source` non-empty: transparent mode, bound to that (client) address first
   * (IP_TRANSPARENT; EPERM without CAP_NET_ADMIN, EAFNOSUPPORT when its family is not the server's).
   */
  connect(conn: number, address: string, port: number, timeoutMs: number, keepAliveMs: number, source: string): void;
  /** Abandons a connect under way (no `connected` report follows). */
  abortConnect(conn: number): void;
  /**
   * Starts the two-way relay: `toBackend` (PROXY header and replay) and `toClient` are written
   * first, then bytes move both ways until both FINs or an error; `closed` reports the end.
   * `holdClient`: client bytes keep coming to `data` (the PROXY-signature guard) until release().
   */
  relay(conn: number, toBackend: Buffer | null, toClient: Buffer | null, idleMs: number, holdClient: boolean): void;
  /** The guard let the client's bytes through: `held` goes to the backend first, then the relay runs both ways. */
  release(conn: number, held: Buffer | null): void;
  /** Writes a final answer, sends a FIN, and closes once the client does or `lingerMs` passed; reports Responded. */
  respond(conn: number, bytes: Buffer, lingerMs: number): void;
  /** Closes the connection (client and backend) now; no `closed` report follows. */
  close(conn: number): void;
  /** Writes [bytes from client, bytes to client] of `conn` into init's counters; false when it is gone. */
  counters(conn: number): boolean;
  /** Process totals: [open connections, pipes pooled, pipes in use, pipes created]. */
  stats(): number[];
  /** errno number to its name (ECONNRESET), for logs. */
  errnoName(errno: number): string;
  /** prctl(PR_SET_KEEPCAPS): keep the permitted capabilities across the next setuid (true), or not. Throws with the errno. */
  keepCapabilities(on: boolean): void;
  /** capset(2): exactly these capabilities (a bit mask of 0-31) permitted and effective, none inheritable. Throws with the errno. */
  setCapabilities(mask: number): void;
}

export type AddonLoad = { readonly ok: true; readonly addon: NativeAddon } | { readonly ok: false; readonly reason: string };

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

let loaded: AddonLoad | undefined;

/**
 * The addon, or why it cannot run here: not Linux, not built (no compiler at install), or built
 * for something else. PORTPLEX_NATIVE_ADDON names another build (the sanitizer one in CI).
 */
export function loadAddon(): AddonLoad {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux') return (loaded = { ok: false, reason: `splice(2) and epoll are Linux-only (this is ${process.platform})` });
  const path = process.env['PORTPLEX_NATIVE_ADDON'] || join(ROOT, 'build', 'Release', 'portplex.node');
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    return (loaded = { ok: true, addon });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'MODULE_NOT_FOUND' ? `the addon was not built (${path} is missing: \`npm rebuild portplex\` or \`npm run build:native\` builds it)` : `the addon at ${path} does not load: ${(e as Error).message}`;
    return (loaded = { ok: false, reason });
  }
}
