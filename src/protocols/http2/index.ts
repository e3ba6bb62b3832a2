/** HTTP/2 with prior knowledge (RFC 9113 §3.4): the connection preface and its SETTINGS frame. */
import type { ProtocolModule } from '../module.js';
import { parseHttp2Preface, type Http2Preface } from './preface.js';

export const http2: ProtocolModule<'http2', Http2Preface, 'http2'> = {
  key: 'http2',
  tcp: (b) => parseHttp2Preface(b),
  names: { http2: null },
};
