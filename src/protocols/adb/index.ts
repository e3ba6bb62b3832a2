/** Android Debug Bridge: the host's CNXN message. */
import type { ProtocolModule } from '../module.js';
import { parseAdbConnect, type AdbConnect } from './parse.js';

export const adb: ProtocolModule<'adb', AdbConnect, 'adb'> = {
  key: 'adb',
  tcp: (b) => parseAdbConnect(b),
  names: { adb: null },
};
