/**
 * The process's one native data plane: the addon initialised once, and its events routed to the
 * listener or connection they name. Everything here runs on the main thread, inside the addon's
 * libuv callbacks (each with a callback scope, so promise jobs and nextTicks run after it).
 */
import type { Endpoint } from '../observe/close-line.js';
import type { ByteCounts } from '../engine/close-notes.js';
import { CLOSED_FIELDS, type NativeAddon, type NativeClose } from './addon.js';

/** What a connection hears from the addon. */
export interface NativeConnectionEvents {
  data(bytes: Buffer): void;
  end(): void;
  connected(errno: number): void;
  closed(reason: NativeClose, errno: number, bytes: ByteCounts): void;
}

/** What a listener hears from the addon: `conn` is the new connection's id. */
export interface NativeListenerEvents {
  accept(conn: number, peer: Endpoint, local: Endpoint): void;
  acceptError(errno: number): void;
}

/** One read of the addon's, at most; the shared buffer JS sees the bytes in. */
const READ_BUFFER_BYTES = 64 * 1024;

export class NativePlane {
  private readonly readBuffer = Buffer.alloc(READ_BUFFER_BYTES);
  private readonly counterCells = new Float64Array(2);
  private readonly connections = new Map<number, NativeConnectionEvents>();
  private readonly listeners = new Map<number, NativeListenerEvents>();

  private constructor(readonly addon: NativeAddon) {
    addon.init(
      {
        accept: (listener, conn, peerAddress, peerPort, localAddress, localPort) => {
          const l = this.listeners.get(listener);
          if (l === undefined) return addon.close(conn);
          l.accept(conn, { address: peerAddress, port: peerPort }, { address: localAddress, port: localPort });
        },
        // The bytes are valid during this call only: the session keeps its own copy.
        data: (conn, length) => this.connections.get(conn)?.data(Buffer.from(this.readBuffer.subarray(0, length))),
        end: (conn) => this.connections.get(conn)?.end(),
        connected: (conn, errno) => this.connections.get(conn)?.connected(errno),
        closed: (records, count) => {
          for (let i = 0; i < count; i++) {
            const r = i * CLOSED_FIELDS;
            const conn = records[r]!;
            const c = this.connections.get(conn);
            this.connections.delete(conn);
            c?.closed(records[r + 1]! as NativeClose, records[r + 2]!, { fromClient: records[r + 3]!, toClient: records[r + 4]! });
          }
        },
        acceptError: (listener, errno) => this.listeners.get(listener)?.acceptError(errno),
      },
      this.readBuffer,
      this.counterCells,
    );
  }

  private static planes = new WeakMap<NativeAddon, NativePlane>();

  /** The plane of `addon`, initialised on first use (an addon is initialised once per process). */
  static of(addon: NativeAddon): NativePlane {
    let p = NativePlane.planes.get(addon);
    if (p === undefined) NativePlane.planes.set(addon, (p = new NativePlane(addon)));
    return p;
  }

  listen(id: number, events: NativeListenerEvents): void {
    this.listeners.set(id, events);
  }

  unlisten(id: number): void {
    this.listeners.delete(id);
    this.addon.closeListener(id);
  }

  attach(conn: number, events: NativeConnectionEvents): void {
    this.connections.set(conn, events);
  }

  /** Closes `conn` now (no report follows) and returns its byte counts. */
  close(conn: number): ByteCounts {
    const bytes = this.counters(conn) ?? { fromClient: 0, toClient: 0 };
    this.connections.delete(conn);
    this.addon.close(conn);
    return bytes;
  }

  /** Live byte counts of an open connection (the addon keeps them). */
  counters(conn: number): ByteCounts | undefined {
    if (!this.addon.counters(conn)) return undefined;
    return { fromClient: this.counterCells[0]!, toClient: this.counterCells[1]! };
  }

  errnoName(errno: number): string {
    return this.addon.errnoName(errno);
  }
}
