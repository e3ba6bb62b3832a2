/** tinc: the ID line that opens a meta connection. */
import type { ProtocolModule } from '../module.js';
import { resumeTinc, type TincId, type TincResume } from './parse.js';

export const tinc: ProtocolModule<'tinc', TincId, 'tinc'> = {
  key: 'tinc',
  tcp: (b, _max, from) => resumeTinc(b, from as TincResume | undefined),
  names: { tinc: null },
};
