/**
 * The native data plane's dialer (backends/dial.ts's Dialer): the addon connects the one backend
 * socket a native connection has. A name is looked up first (dns.lookup, every address, in the
 * resolver's order, as node:net tries them), then each address in turn within the connect timeout.
 */
import { lookup } from 'node:dns';
import { isIP } from 'node:net';
import { connectTimeoutError, transparentFamilyError, type Dialer } from '../backends/dial.js';
import type { NativePlane } from './plane.js';

/** The backend side of native connection `conn` (what a Dialer's link is on this plane). */
export interface NativeBackend {
  readonly conn: number;
}

/** Where a connection hears its connect outcomes: the dialer sets `onConnected` while one is under way. */
export interface ConnectSlot {
  onConnected: ((errno: number) => void) | undefined;
  /** Told once when the backend side closes (the pool's count of active connections). */
  readonly backendClosed: (() => void)[];
}

export function nativeDialer(plane: NativePlane, conn: number, slot: ConnectSlot): Dialer<NativeBackend> {
  const link: NativeBackend = { conn };
  return (server, opts, done) => {
    let over = false;
    const deadline = performance.now() + opts.timeoutMs;
    const errors: string[] = [];
    const settle = (r: Parameters<typeof done>[0]): void => {
      if (over) return;
      over = true;
      slot.onConnected = undefined;
      done(r);
    };
    const attempt = (addresses: readonly string[], i: number): void => {
      const address = addresses[i];
      const left = Math.max(1, Math.round(deadline - performance.now()));
      if (address === undefined) return settle({ ok: false, error: errors[errors.length - 1] ?? 'no address' });
      slot.onConnected = (errno) => {
        slot.onConnected = undefined;
        if (errno === 0) return settle({ ok: true, link, onClose: (fn) => void slot.backendClosed.push(fn) });
        errors.push(errno === -1 ? connectTimeoutError(opts.timeoutMs) : errnoText(plane.errnoName(errno), opts.transparentSource !== undefined));
        if (errno === -1) return settle({ ok: false, error: errors[errors.length - 1]! });
        attempt(addresses, i + 1);
      };
      const source = opts.transparentSource;
      if (source !== undefined) {
        const [from, to] = [isIP(source), isIP(address)];
        if (from !== to) {
          errors.push(transparentFamilyError(from === 6 ? 6 : 4, to === 6 ? 6 : 4));
          return attempt(addresses, i + 1);
        }
      }
      plane.addon.connect(conn, address, server.port, left, opts.keepAliveMs ?? 0, source ?? '');
    };
    if (isIP(server.host) !== 0) attempt([server.host], 0);
    else
      lookup(server.host, { all: true }, (err, found) => {
        if (over) return;
        if (err !== null) return settle({ ok: false, error: err.code ?? err.message });
        attempt(
          found.map((a) => a.address),
          0,
        );
      });
    return () => {
      if (over) return;
      plane.addon.abortConnect(conn);
      settle({ ok: false, error: 'aborted' });
    };
  };
}

/** EPERM on a transparent connect is the missing capability: say which. */
function errnoText(name: string, transparent: boolean): string {
  return transparent && name === 'EPERM' ? 'transparent: EPERM (IP_TRANSPARENT needs CAP_NET_ADMIN)' : name;
}
