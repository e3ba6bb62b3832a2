/** SSH (RFC 4253 §4.2): the client's identification string. */
import type { ProtocolModule } from '../module.js';
import { resumeSshBanner, type SshBanner, type SshResume } from './banner.js';

export const ssh: ProtocolModule<'ssh', SshBanner, 'ssh'> = {
  key: 'ssh',
  tcp: (b, _max, from) => resumeSshBanner(b, from as SshResume | undefined),
  names: { ssh: null },
};
