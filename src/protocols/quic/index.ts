/** QUIC (RFC 9000): a flow whose Initial packets carry a complete ClientHello; UDP only. */
import type { ProtocolModule } from '../module.js';
import type { ClientHello } from '../tls/client-hello.js';

export const quic: ProtocolModule<'quic', ClientHello, 'quic'> = {
  key: 'quic',
  // The same parse as the tls conditions on UDP: Facts answers `quic` from the tls slot, parsed once.
  udpReads: 'tls',
  names: { quic: null },
};
