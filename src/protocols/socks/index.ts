/** SOCKS 4/4a (no RFC) and SOCKS 5 (RFC 1928 §3): the client's first request; `socks4` and `socks5` ask for one version. */
import type { ProtocolModule } from '../module.js';
import { resumeSocks, type SocksRequest, type SocksResume } from './parse.js';

export const socks: ProtocolModule<'socks', SocksRequest, 'socks' | 'socks4' | 'socks5'> = {
  key: 'socks',
  tcp: (b, _max, from) => resumeSocks(b, from as SocksResume | undefined),
  names: { socks: null, socks4: (v) => v.version === 4, socks5: (v) => v.version === 5 },
};
