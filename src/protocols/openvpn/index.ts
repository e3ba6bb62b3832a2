/** OpenVPN: a hard-reset packet opening the session, over TCP (length-prefixed) or UDP. */
import type { ProtocolModule } from '../module.js';
import { parseOpenVpnTcp, parseOpenVpnUdp, type OpenVpnReset } from './parse.js';

export const openvpn: ProtocolModule<'openvpn', OpenVpnReset, 'openvpn'> = {
  key: 'openvpn',
  tcp: (b) => parseOpenVpnTcp(b),
  udp: (d) => parseOpenVpnUdp(d[0]!),
  names: { openvpn: null },
};
