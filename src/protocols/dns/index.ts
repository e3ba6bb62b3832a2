/** DNS over UDP (RFC 1035 §4.1): a query in the flow's first datagram. */
import type { ProtocolModule } from '../module.js';
import { parseDnsQuery, type DnsQuery } from './parse.js';

export const dns: ProtocolModule<'dns', DnsQuery, 'dns'> = {
  key: 'dns',
  udp: (d) => parseDnsQuery(d[0]!),
  names: { dns: null },
};
