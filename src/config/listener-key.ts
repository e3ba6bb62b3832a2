/** What identifies a listening socket: a reload keeps a listener whose key is unchanged. */
import type { ListenerConfig } from './types.js';

export function listenerKey(cfg: ListenerConfig): string {
  // Port 0 (any free port, used in tests) is no address: two such listeners are told apart by name.
  // TCP and UDP on the same port are two sockets.
  return cfg.port === 0 ? `${cfg.transport}|${cfg.host}|0|${cfg.name}` : `${cfg.transport}|${cfg.host}|${cfg.port}`;
}
