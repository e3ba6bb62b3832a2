/** WireGuard: a handshake initiation in the flow's first datagram. */
import type { ProtocolModule } from '../module.js';
import { parseWireGuardInitiation, type WireGuardInitiation } from './parse.js';

export const wireguard: ProtocolModule<'wireguard', WireGuardInitiation, 'wireguard'> = {
  key: 'wireguard',
  udp: (d) => parseWireGuardInitiation(d[0]!),
  names: { wireguard: null },
};
