/**
 * One probe of `portplex doctor`: connect to a server, give it a moment to speak first (SSH, SMTP
 * banners), send [PROXY header] + a payload, read what comes back, and classify it.
 *
 * The classifier (`classifyAnswer`) is a pure function over the bytes received and how the
 * connection ended; `probe` is the I/O around it. Both never throw: every failure (connect error,
 * reset, timeout, a header that cannot be built) ends up in the answer. Every probe is bounded in
 * time (connect timeout + banner wait + read timeout) and in bytes (`maxBytes`, 4 KiB by default).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ProxyV2Options, SendProxy } from '../../config/types.js';
import { escapeClientText } from '../../observe/escape.js';
import { connectWithTimeout } from '../../net/connect.js';
import { outgoingHeader } from '../../proxy/outgoing-header.js';

// ---------------------------------------------------------------------------------------------
// Classification (pure)

/** How the connection ended (or 'open': still reading, used to decide whether to stop early). */
export type ProbeEnd = 'open' | 'fin' | 'reset' | 'timeout' | 'cap';

/** What the server did, as far as one probe can tell. */
export type AnswerKind = 'tls' | 'http' | 'ssh' | 'banner' | 'closed' | 'reset' | 'timeout' | 'refused' | 'other';

/**
 * For a server that sent a banner (ssh, banner): what followed the bytes we sent.
 * 'more': it went on without complaint (SSH: the key exchange); 'complaint': a text line that
 * reads as an error ("Invalid SSH identification string.", "500 ...", "-ERR ..."); 'closed' /
 * 'reset': the connection ended; 'silent': nothing more within the time allowed.
 */
export type AfterBanner = 'more' | 'complaint' | 'closed' | 'reset' | 'silent';

export interface Observation {
  /** Set when the TCP connection could not be established (ECONNREFUSED, connect timeout...). */
  readonly connectError?: string | undefined;
  /** Bytes the server sent before we sent anything. */
  readonly serverFirst: Uint8Array;
  /** Bytes the server sent after we sent the header and payload. */
  readonly reply: Uint8Array;
  readonly end: ProbeEnd;
  /** How long the reader waited for the reply, for messages ("no answer within 2000 ms"). */
  readonly waitedMs?: number | undefined;
}

export interface Answer {
  readonly kind: AnswerKind;
  /** tls: a handshake record (ServerHello...) or an alert. */
  readonly tlsRecord?: 'handshake' | 'alert';
  /** tls alert: its description code and name, when the 7 bytes arrived. */
  readonly tlsAlert?: { readonly level: number; readonly description: number; readonly name: string };
  /** http: the status code and the status line (escaped). */
  readonly status?: number;
  readonly statusLine?: string;
  /** ssh, banner: the server's first line (escaped, at most 120 characters). */
  readonly banner?: string;
  /** ssh, banner: whether the banner came before we sent anything. */
  readonly spokeFirst?: boolean;
  /** ssh, banner: what followed our bytes. */
  readonly after?: AfterBanner;
  /** after === 'complaint': the line (escaped). */
  readonly complaint?: string;
  /** Total bytes received. */
  readonly bytes: number;
  readonly end: ProbeEnd;
  /** While the connection is open: more bytes cannot change this answer, the probe may stop reading. */
  readonly final: boolean;
  /** One phrase for humans: "a TLS handshake (ServerHello)", "HTTP 400 Bad Request", ... */
  readonly summary: string;
}

const TLS_ALERTS: Readonly<Record<number, string>> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  22: 'record_overflow',
  40: 'handshake_failure',
  42: 'bad_certificate',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  50: 'decode_error',
  51: 'decrypt_error',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  109: 'missing_extension',
  110: 'unsupported_extension',
  112: 'unrecognized_name',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

const HTTP_PREFIX = Buffer.from('HTTP/', 'latin1');
const SSH_PREFIX = Buffer.from('SSH-', 'latin1');
const MAX_LINE = 120;

/** Text lines after a banner that read as an error from SSH, SMTP, FTP, POP3, IMAP or similar servers. */
const COMPLAINT =
  /invalid|mismatch|\bbad\b|error|unrecogni[sz]ed|not recogni[sz]ed|unknown command|syntax|not supported|not implemented|denied|refused|^[45]\d\d(?:[ -]|$)|^-ERR\b|^\S+ (?:BAD|NO)\b/i;

function startsWith(bytes: Uint8Array, prefix: Uint8Array): 'yes' | 'prefix' | 'no' {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return 'no';
  return bytes.length >= prefix.length ? 'yes' : 'prefix';
}

interface Line {
  /** The line without CR LF, latin1. */
  readonly text: string;
  /** Bytes after the line terminator. */
  readonly rest: Uint8Array;
  /** A terminator was seen. */
  readonly complete: boolean;
  /** Every byte of the line is printable ASCII or TAB. */
  readonly printable: boolean;
}

function firstLine(bytes: Uint8Array): Line {
  let i = 0;
  let printable = true;
  const limit = Math.min(bytes.length, 1024);
  while (i < limit && bytes[i] !== 0x0a) {
    const b = bytes[i]!;
    if (!((b >= 0x20 && b <= 0x7e) || b === 0x09 || (b === 0x0d && (i + 1 >= bytes.length || bytes[i + 1] === 0x0a)))) printable = false;
    i++;
  }
  const complete = i < bytes.length && bytes[i] === 0x0a;
  let end = i;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1');
  return { text, rest: complete ? bytes.subarray(i + 1) : bytes.subarray(bytes.length), complete, printable };
}

function shortText(s: string): string {
  const e = escapeClientText(s, MAX_LINE) ?? '';
  return e;
}

function hexPrefix(bytes: Uint8Array, n = 8): string {
  return Buffer.from(bytes.subarray(0, n)).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

function endPhrase(end: ProbeEnd): string {
  switch (end) {
    case 'fin':
      return ', then closed';
    case 'reset':
      return ', then reset';
    default:
      return '';
  }
}

/** What came after a banner: the bytes that answered ours (`rest`), and how the connection ended. */
function afterBanner(rest: Uint8Array, end: ProbeEnd, ssh: boolean): { after: AfterBanner | undefined; complaint?: string; final: boolean } {
  if (rest.length === 0) {
    if (end === 'fin') return { after: 'closed', final: true };
    if (end === 'reset') return { after: 'reset', final: true };
    if (end === 'open') return { after: undefined, final: false };
    return { after: 'silent', final: true };
  }
  const line = firstLine(rest);
  if (ssh) {
    // RFC 4253 §6: after the identification strings, binary packets: uint32 length, byte padding, byte type.
    if (rest[0] !== undefined && rest[0] < 0x20 && rest[0] !== 0x09 && rest[0] !== 0x0a && rest[0] !== 0x0d) return { after: 'more', final: true };
    if (!line.complete && end === 'open' && rest.length < 256) return { after: undefined, final: false };
    // An SSH server writes text after its banner only to say why it gives up.
    if (line.printable) return { after: 'complaint', complaint: shortText(line.text), final: true };
    return { after: 'more', final: true };
  }
  if (!line.printable) return { after: 'more', final: true };
  if (!line.complete && end === 'open' && rest.length < 256) return { after: undefined, final: false };
  if (COMPLAINT.test(line.text)) return { after: 'complaint', complaint: shortText(line.text), final: true };
  // A harmless line (a continuation of a multi-line greeting...): look further, or settle for 'more'.
  if (line.rest.length > 0) {
    const next = afterBanner(line.rest, end, false);
    if (next.after !== undefined) return next;
    return { after: undefined, final: false };
  }
  return end === 'open' ? { after: undefined, final: false } : { after: 'more', final: true };
}

function describeAfter(a: AfterBanner | undefined, complaint: string | undefined, ssh: boolean): string {
  switch (a) {
    case 'more':
      return ssh ? ' then the key exchange' : ' then more data, no complaint';
    case 'complaint':
      return ` then "${complaint ?? ''}"`;
    case 'closed':
      return ' then closed the connection';
    case 'reset':
      return ' then reset the connection';
    case 'silent':
      return ' then nothing more';
    default:
      return '';
  }
}

/**
 * Classifies what a server sent. Pure: the same observation always gives the same answer.
 * `final` tells an open connection's reader whether it can stop: the answer cannot change anymore.
 */
export function classifyAnswer(obs: Observation): Answer {
  const { serverFirst, reply, end } = obs;
  const bytes = serverFirst.length + reply.length;
  const base = { bytes, end };
  if (obs.connectError !== undefined) {
    return { ...base, kind: 'refused', final: true, summary: `connection failed: ${obs.connectError}` };
  }

  // The server spoke before we sent anything: SSH, SMTP, FTP, POP3, IMAP, MySQL...
  if (serverFirst.length > 0) {
    const line = firstLine(serverFirst);
    const ssh = startsWith(serverFirst, SSH_PREFIX) === 'yes';
    const banner = line.printable ? shortText(line.text) : `${serverFirst.length} binary bytes (${hexPrefix(serverFirst)})`;
    const a = afterBanner(reply, end, ssh);
    const what = ssh ? `an SSH banner "${banner}"` : line.printable ? `a banner "${banner}"` : `a binary greeting of ${banner}`;
    return {
      ...base,
      kind: ssh ? 'ssh' : 'banner',
      banner,
      spokeFirst: true,
      ...(a.after !== undefined ? { after: a.after } : {}),
      ...(a.complaint !== undefined ? { complaint: a.complaint } : {}),
      final: a.final,
      summary: `${what} first${a.after !== undefined ? ',' : ''}${describeAfter(a.after, a.complaint, ssh)}`,
    };
  }

  if (reply.length === 0) {
    switch (end) {
      case 'fin':
        return { ...base, kind: 'closed', final: true, summary: 'closed the connection without answering' };
      case 'reset':
        return { ...base, kind: 'reset', final: true, summary: 'reset the connection without answering' };
      case 'open':
        return { ...base, kind: 'timeout', final: false, summary: 'no answer yet' };
      default:
        return {
          ...base,
          kind: 'timeout',
          final: true,
          summary: obs.waitedMs !== undefined ? `no answer within ${obs.waitedMs} ms` : 'no answer in time',
        };
    }
  }

  const b0 = reply[0]!;
  // TLS records (RFC 8446 §5.1): content type 22 handshake / 21 alert, legacy version 0x03xx.
  if (b0 === 0x16 || b0 === 0x15) {
    if (reply.length < 2) {
      if (end === 'open') return { ...base, kind: 'other', final: false, summary: 'one byte so far' };
    } else if (reply[1] === 0x03) {
      if (b0 === 0x16) {
        const type = reply.length >= 6 ? reply[5] : undefined;
        const name = type === 2 ? 'ServerHello' : type === undefined ? 'handshake record' : `handshake message type ${type}`;
        return { ...base, kind: 'tls', tlsRecord: 'handshake', final: true, summary: `a TLS handshake (${name})${endPhrase(end)}` };
      }
      if (reply.length < 7 && end === 'open') return { ...base, kind: 'tls', tlsRecord: 'alert', final: false, summary: 'a TLS alert' };
      if (reply.length >= 7) {
        const level = reply[5]!;
        const description = reply[6]!;
        const name = TLS_ALERTS[description] ?? `alert ${description}`;
        return {
          ...base,
          kind: 'tls',
          tlsRecord: 'alert',
          tlsAlert: { level, description, name },
          final: true,
          summary: `a TLS ${level === 2 ? 'fatal ' : ''}alert (${name})${endPhrase(end)}`,
        };
      }
      return { ...base, kind: 'tls', tlsRecord: 'alert', final: true, summary: `a truncated TLS alert${endPhrase(end)}` };
    }
  }

  const http = startsWith(reply, HTTP_PREFIX);
  if (http !== 'no') {
    const line = firstLine(reply);
    const m = /^HTTP\/\d(?:\.\d)? (\d{3})(?: (.*))?$/.exec(line.text);
    if ((line.complete || end !== 'open') && m) {
      const status = Number(m[1]);
      const statusLine = shortText(line.text);
      const reason = m[2] ? ` ${shortText(m[2])}` : '';
      return { ...base, kind: 'http', status, statusLine, final: true, summary: `HTTP ${status}${reason}` };
    }
    if (end === 'open' && !line.complete && reply.length < 256) return { ...base, kind: 'other', final: false, summary: 'part of an HTTP status line' };
    // Not a usable status line: treated as text or other bytes below.
  }

  // Text that is not HTTP: a banner sent after our bytes (a server that waited for the PROXY
  // header before greeting), or an error line.
  const line = firstLine(reply);
  if (line.printable && (line.complete || end !== 'open' || reply.length >= 256)) {
    const ssh = startsWith(reply, SSH_PREFIX) === 'yes';
    const banner = shortText(line.text);
    if (!ssh && COMPLAINT.test(line.text)) {
      return {
        ...base,
        kind: 'banner',
        banner,
        spokeFirst: false,
        after: 'complaint',
        complaint: banner,
        final: true,
        summary: `the text "${banner}"${endPhrase(end)}`,
      };
    }
    const a = afterBanner(line.rest, end, ssh);
    return {
      ...base,
      kind: ssh ? 'ssh' : 'banner',
      banner,
      spokeFirst: false,
      ...(a.after !== undefined ? { after: a.after } : {}),
      ...(a.complaint !== undefined ? { complaint: a.complaint } : {}),
      final: a.final,
      summary: `${ssh ? 'an SSH banner' : 'a banner'} "${banner}"${describeAfter(a.after, a.complaint, ssh)}`,
    };
  }
  if (line.printable && end === 'open') return { ...base, kind: 'other', final: false, summary: 'part of a text line' };
  return { ...base, kind: 'other', final: true, summary: `${reply.length} unrecognized bytes (${hexPrefix(reply)})${endPhrase(end)}` };
}

// ---------------------------------------------------------------------------------------------
// Payloads

export type PayloadKind = 'tls' | 'http' | 'ssh' | 'none';

export type Payload =
  | { readonly kind: 'tls'; readonly hello: Buffer; readonly sni: string | undefined; readonly alpn: readonly string[] }
  | { readonly kind: 'http'; readonly host: string }
  | { readonly kind: 'ssh' }
  | { readonly kind: 'none' };

export const SSH_IDENT = 'SSH-2.0-portplex-doctor\r\n';

export function payloadBytes(p: Payload): Buffer {
  switch (p.kind) {
    case 'tls':
      return p.hello;
    case 'http':
      return Buffer.from(`GET / HTTP/1.1\r\nHost: ${p.host}\r\nUser-Agent: portplex-doctor\r\nAccept: */*\r\nConnection: close\r\n\r\n`, 'latin1');
    case 'ssh':
      return Buffer.from(SSH_IDENT, 'latin1');
    case 'none':
      return Buffer.alloc(0);
  }
}

export function describePayload(p: Payload | PayloadKind): string {
  const payload = typeof p === 'string' ? undefined : p;
  switch (typeof p === 'string' ? p : p.kind) {
    case 'tls':
      if (payload?.kind !== 'tls') return 'a TLS ClientHello';
      return `a TLS ClientHello (${payload.sni !== undefined ? `SNI ${payload.sni}` : 'no SNI'}${payload.alpn.length > 0 ? `, ALPN ${payload.alpn.join(',')}` : ''})`;
    case 'http':
      return payload?.kind === 'http' ? `an HTTP request (Host ${payload.host})` : 'an HTTP request';
    case 'ssh':
      return 'an SSH identification string';
    case 'none':
      return 'no data (a silent client)';
  }
}


// ---------------------------------------------------------------------------------------------
// The probe (I/O)

export interface ProbeOptions {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  /** How long to wait for an answer once the header and payload are sent. */
  readonly readTimeoutMs: number;
  /** How long to wait for a server-speaks-first banner before sending (default 250 ms). */
  readonly bannerWaitMs?: number;
  /** After a banner, how long silence counts as "nothing more" (default 750 ms, at most readTimeoutMs). */
  readonly quietMs?: number;
  /** Stop reading after this many bytes (default 4096). */
  readonly maxBytes?: number;
  /** The PROXY header to send, built with outgoingHeader from the probe socket's own addresses. */
  readonly header: SendProxy;
  readonly proxyV2: ProxyV2Options;
  readonly payload: Payload;
}

export interface ProbeResult {
  readonly server: string;
  readonly header: SendProxy;
  /** Bytes of PROXY header sent (0 for off). */
  readonly headerBytes: number;
  /** What was planned, and what was actually sent after seeing the server speak first. */
  readonly planned: PayloadKind;
  readonly sent: PayloadKind;
  /** `sent` in words, with the SNI or Host used: "a TLS ClientHello (SNI www.example.com)". */
  readonly sentDescription: string;
  /** Why `sent` differs from `planned`. */
  readonly adapted?: string;
  /** The probe socket's endpoints (what the header carried). */
  readonly local?: { readonly address: string; readonly port: number };
  readonly answer: Answer;
  readonly ms: number;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One probe. Never rejects; every path ends with the socket destroyed. */
export function probe(opts: ProbeOptions): Promise<ProbeResult> {
  const started = Date.now();
  const bannerWaitMs = opts.bannerWaitMs ?? 250;
  const maxBytes = opts.maxBytes ?? 4096;
  const quietMs = Math.min(opts.quietMs ?? 750, opts.readTimeoutMs);
  const server = hostPort(opts.host, opts.port);

  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    let phase: 'connect' | 'banner' | 'reply' = 'connect';
    let serverFirst: Buffer = Buffer.alloc(0);
    let reply: Buffer = Buffer.alloc(0);
    let headerBytes = 0;
    let sent: PayloadKind = opts.payload.kind;
    let sentDescription = describePayload(opts.payload);
    let adapted: string | undefined;
    let local: { address: string; port: number } | undefined;
    let timer: NodeJS.Timeout | undefined;
    let replyDeadline = 0;
    let sentAt = 0;

    // Set once connected; every handler that uses it runs after that.
    let socket: Socket | undefined;

    const result = (answer: Answer): ProbeResult => ({
      server,
      header: opts.header,
      headerBytes,
      planned: opts.payload.kind,
      sent,
      sentDescription,
      ...(adapted !== undefined ? { adapted } : {}),
      ...(local !== undefined ? { local } : {}),
      answer,
      ms: Date.now() - started,
    });

    const finish = (end: ProbeEnd, connectError?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      const waitedMs = sentAt > 0 ? Date.now() - sentAt : undefined;
      resolve(result(classifyAnswer({ connectError, serverFirst, reply, end, waitedMs: end === 'timeout' ? Math.round(waitedMs ?? 0) : waitedMs })));
    };

    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve(result({ kind: 'other', bytes: serverFirst.length + reply.length, end: 'open', final: true, summary: message }));
    };

    const arm = (ms: number, fn: () => void): void => {
      clearTimeout(timer);
      timer = setTimeout(fn, Math.max(0, ms));
    };

    const send = (): void => {
      if (settled || socket === undefined) return;
      phase = 'reply';
      let payload = opts.payload;
      if (serverFirst.length > 0) {
        // The server spoke first: talk its language, or send only the header.
        if (startsWith(serverFirst, SSH_PREFIX) === 'yes') {
          if (payload.kind !== 'ssh') adapted = `the server sent an SSH banner first: sent ${describePayload('ssh')} instead of ${describePayload(payload)}`;
          payload = { kind: 'ssh' };
        } else if (payload.kind !== 'none') {
          adapted = `the server spoke first: sent no payload instead of ${describePayload(payload)}`;
          payload = { kind: 'none' };
        }
      }
      sent = payload.kind;
      sentDescription = describePayload(payload);
      const ep = {
        srcAddress: socket.localAddress ?? '',
        srcPort: socket.localPort ?? 0,
        dstAddress: socket.remoteAddress ?? opts.host,
        dstPort: socket.remotePort ?? opts.port,
      };
      local = { address: ep.srcAddress, port: ep.srcPort };
      const h = outgoingHeader(
        opts.header,
        ep,
        {
          sni: payload.kind === 'tls' ? payload.sni : undefined,
          alpn: payload.kind === 'tls' ? payload.alpn[0] : undefined,
          local: false,
          uniqueId: opts.proxyV2.uniqueId ? randomBytes(16) : undefined,
          inboundTlvs: [],
        },
        opts.proxyV2,
      );
      if (!h.ok) return fail(`could not build the PROXY ${opts.header} header: ${h.message}`);
      const header = h.header ?? Buffer.alloc(0);
      headerBytes = header.length;
      const data = Buffer.concat([header, payloadBytes(payload)]);
      sentAt = Date.now();
      replyDeadline = sentAt + (serverFirst.length > 0 ? quietMs : opts.readTimeoutMs);
      if (data.length > 0) socket.write(data);
      arm(replyDeadline - Date.now(), () => finish('timeout'));
      check();
    };

    /** After each event: stop as soon as the answer is decided. */
    const check = (): void => {
      if (settled || phase !== 'reply') return;
      const a = classifyAnswer({ serverFirst, reply, end: 'open' });
      if (a.final) return finish('open');
      // A banner that came only after our bytes: wait a little for a complaint, not the whole timeout.
      if ((a.kind === 'banner' || a.kind === 'ssh') && replyDeadline - Date.now() > quietMs) {
        replyDeadline = Date.now() + quietMs;
        arm(quietMs, () => finish('timeout'));
      }
    };

    const connected = (sock: Socket): void => {
      socket = sock;
      phase = 'banner';
      sock.on('error', () => finish('reset'));
      sock.on('end', () => finish('fin'));
      sock.on('close', () => finish('fin'));
      sock.on('data', (chunk: Buffer) => {
        if (settled) return;
        const room = maxBytes - serverFirst.length - reply.length;
        const part = chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk;
        if (phase === 'reply') reply = Buffer.concat([reply, part]);
        else serverFirst = Buffer.concat([serverFirst, part]);
        if (chunk.length >= room) {
          if (phase !== 'reply') {
            // A huge greeting: classify what we have without sending anything.
            phase = 'reply';
          }
          return finish('cap');
        }
        if (phase === 'banner') {
          // Wait for the end of the first line (or a little longer), then answer.
          if (firstLine(serverFirst).complete || serverFirst.length >= 255) send();
          return;
        }
        check();
      });
      arm(bannerWaitMs, () => {
        if (serverFirst.length === 0) return send();
        // Partial banner: give it one more wait, then go on.
        arm(bannerWaitMs, send);
      });
    };
    // Invalid options (a port out of range...), refusals and timeouts all end as a connect error.
    connectWithTimeout({ host: opts.host, port: opts.port, timeoutMs: opts.connectTimeoutMs, allowHalfOpen: true, noDelay: true }, (r) => {
      if (r.ok) return connected(r.socket);
      finish('open', r.kind === 'timeout' ? `connect timeout after ${opts.connectTimeoutMs} ms` : r.kind === 'error' ? r.error : 'aborted');
    });
  });
}
