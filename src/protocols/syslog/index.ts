/** Syslog over TCP (RFC 6587): a first message, octet-counted or newline-framed. */
import type { ProtocolModule } from '../module.js';
import { resumeSyslog, type SyslogMessage, type SyslogResume } from './parse.js';

export const syslog: ProtocolModule<'syslog', SyslogMessage, 'syslog'> = {
  key: 'syslog',
  tcp: (b, max, from) => resumeSyslog(b, max, from as SyslogResume | undefined),
  names: { syslog: null },
};
