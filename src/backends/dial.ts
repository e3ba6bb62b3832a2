/**
 * Opens one TCP connection to a server with a connect timeout. Never throws; always reports once.
 * A `Dialer` is what a transport connects with: node:net sockets here (socketDialer), the native
 * data plane's connections in src/native/; the pool and the forward actions work with either.
 */
import type { Socket } from 'node:net';
import type { ServerConfig } from '../config/types.js';
import { connectWithTimeout } from '../net/connect.js';

export type DialResult = { ok: true; socket: Socket } | { ok: false; error: string };

export interface DialOptions {
  readonly timeoutMs: number;
  readonly noDelay: boolean;
  readonly keepAliveMs: number | undefined;
  /** Told when a socket option could not be applied: optional features never fail a connection. */
  readonly onOptionError?: (option: string, error: unknown) => void;
  /** Transparent mode: the client address the connection takes as its source (native data plane only). */
  readonly transparentSource?: string;
}

/** What a dialer connected: the transport's own handle, and how to hear once that it closed. */
export type Dialed<L> = { readonly ok: true; readonly link: L; onClose(fn: () => void): void } | { readonly ok: false; readonly error: string };

/** Connects to host:port (a name or an address); returns an abort. `error` is 'aborted' after one. */
export type Dialer<L> = (server: Pick<ServerConfig, 'host' | 'port'>, opts: DialOptions, done: (r: Dialed<L>) => void) => () => void;

/** Returns an abort: used when the client goes away while we are still connecting. */
export function dial(server: Pick<ServerConfig, 'host' | 'port'>, opts: DialOptions, done: (r: DialResult) => void): () => void {
  // node:net cannot set IP_TRANSPARENT; `run` refuses such rules on this plane, this is the backstop.
  if (opts.transparentSource !== undefined) {
    done({ ok: false, error: TRANSPARENT_NEEDS_NATIVE });
    return () => undefined;
  }
  return connectWithTimeout({ host: server.host, port: server.port, timeoutMs: opts.timeoutMs, allowHalfOpen: true }, (r) => {
    if (!r.ok) {
      done({ ok: false, error: r.kind === 'timeout' ? connectTimeoutError(opts.timeoutMs) : r.kind === 'aborted' ? 'aborted' : r.error });
      return;
    }
    applyOption('nodelay', () => r.socket.setNoDelay(opts.noDelay), opts);
    if (opts.keepAliveMs !== undefined) applyOption('keepalive', () => r.socket.setKeepAlive(true, opts.keepAliveMs), opts);
    done({ ok: true, socket: r.socket });
  });
}

/** The node:net dialer. */
export const socketDialer: Dialer<Socket> = (server, opts, done) =>
  dial(server, opts, (r) => done(r.ok ? { ok: true, link: r.socket, onClose: (fn) => void r.socket.once('close', fn) } : r));

/** Connect failures of transparent mode that are this host's setup, not the server's fault. */
export const TRANSPARENT_NEEDS_NATIVE = 'transparent: needs the native data plane';
export const transparentFamilyError = (client: 4 | 6, server: 4 | 6): string =>
  `transparent: an IPv${client} client cannot be the source of a connection to an IPv${server} server`;
export const isTransparentSetupError = (error: string): boolean => error.startsWith('transparent:');

/** Every dialer words a timeout the same way (the close line's failures list shows it). */
export const connectTimeoutError = (ms: number): string => `connect timeout after ${ms}ms`;

function applyOption(name: string, apply: () => void, opts: DialOptions): void {
  try {
    apply();
  } catch (e) {
    opts.onOptionError?.(name, e);
  }
}
