/** HTTP/1: a complete request head (RFC 9112 §2.1). */
import type { ProtocolModule } from '../module.js';
import { compileHttp, HTTP_CONDITIONS, HTTP_KEYS, type HttpCondition } from './conditions.js';
import { resumeHttpRequest, type HttpRequestHead, type HttpResume } from './request.js';

export const http: ProtocolModule<'http', HttpRequestHead, 'http', HttpCondition> = {
  key: 'http',
  tcp: (b, max, from) => resumeHttpRequest(b, max, from as HttpResume | undefined),
  names: { http: null },
  when: { keys: HTTP_KEYS, compile: compileHttp },
  conditions: HTTP_CONDITIONS,
  capture: (h, escape) => ({ http_host: escape(h.host) }),
};
