/**
 * The admin endpoint (node:http, no framework). gate.ts decides whether a request reaches a route
 * (routes.ts); this file wires node:http to them and makes sure nothing a client sends can end
 * the process: every handler (the request, its async route, a request node:http could not parse,
 * a CONNECT) catches what it throws, logs it with PORTPLEX_ERR_ADMIN_INTERNAL and answers 500,
 * or closes the connection when an answer has already begun.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { HostPort } from '../config/types.js';
import { formatHostPort } from '../config/units.js';
import { PortplexError } from '../errors.js';
import { escapeClientText } from '../observe/escape.js';
import type { Logger } from '../observe/logger.js';
import { admit, OPEN_ACCESS, type AdminAccess } from './gate.js';
import { route, textReply, type Reply } from './routes.js';
import type { AdminSource } from './state.js';

export type { AdminSource, AdminState } from './state.js';
export type { AdminAccess } from './gate.js';

export interface RunningAdmin {
  readonly address: AddressInfo;
  /** New Host names and token (a reload that kept the address); requests from now on use them. */
  setAccess(access: AdminAccess): void;
  close(): Promise<void>;
}

const INTERNAL = textReply(500, 'internal error (see the log: PORTPLEX_ERR_ADMIN_INTERNAL)\n');

function send(req: IncomingMessage, res: ServerResponse, r: Reply): void {
  res.writeHead(r.status, {
    'content-type': r.type,
    'content-length': Buffer.byteLength(r.body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...r.headers,
  });
  res.end(req.method === 'HEAD' ? undefined : r.body);
}

/** A whole response written straight to a socket node:http has given up on (unparsable request, CONNECT). */
function rawResponse(r: Reply): string {
  const head = [`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}`, `content-type: ${r.type}`, `content-length: ${Buffer.byteLength(r.body)}`, 'connection: close'];
  for (const [k, v] of Object.entries(r.headers ?? {})) head.push(`${k}: ${v}`);
  return `${head.join('\r\n')}\r\n\r\n${r.body}`;
}

/** What node:http's parser error codes mean for the client (RFC 9110 §15.5); anything else is a 400. */
function clientErrorStatus(code: string | undefined): number {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  return 400;
}

/** llhttp's errors (HPE_*) and node:http's request timeout: a client is there to answer. */
function isParseError(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT');
}

function endWith(socket: Socket, r: Reply): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawResponse(r), () => socket.destroy());
}

export function startAdminServer(listen: HostPort, source: AdminSource, log: Logger, initial: AdminAccess = OPEN_ACCESS): Promise<RunningAdmin> {
  let access = initial;
  const sockets = new Set<Socket>();
  /**
   * Per connection: answers not yet finished, and whether node:http has given up parsing it. A
   * parse error behind a request being answered (pipelined garbage) must not write a 400 into
   * that answer: the connection closes once the answer is whole.
   */
  const answering = new Map<Socket, { open: number; closeAfter: boolean }>();
  const internal = (stage: string, e: unknown, target?: string): void => {
    const err = escapeClientText(e instanceof Error ? e.message : String(e));
    log.error({ code: 'PORTPLEX_ERR_ADMIN_INTERNAL', stage, err, ...(target === undefined ? {} : { target: escapeClientText(target, 120) }) }, 'admin endpoint: request failed');
  };
  const fail = (req: IncomingMessage, res: ServerResponse, stage: string, e: unknown): void => {
    try {
      internal(stage, e, req.url);
      if (!res.headersSent) send(req, res, INTERNAL);
      else res.destroy();
    } catch {
      res.destroy();
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      const socket = req.socket;
      const entry = answering.get(socket) ?? { open: 0, closeAfter: false };
      entry.open++;
      answering.set(socket, entry);
      res.once('close', () => {
        entry.open--;
        if (entry.open === 0 && entry.closeAfter) socket.destroySoon();
      });
      const gate = admit({ method: req.method ?? '', target: req.url ?? '', httpVersion: req.httpVersion, rawHeaders: req.rawHeaders, localAddress: socket.localAddress }, access);
      if (!gate.ok) {
        log.debug({ status: gate.reply.status, method: escapeClientText(req.method, 20), target: escapeClientText(req.url, 120) }, 'admin endpoint: request refused');
        send(req, res, gate.reply);
        return;
      }
      route(gate.path, source)
        .then((reply) => send(req, res, reply))
        .catch((e: unknown) => fail(req, res, 'route', e));
    } catch (e) {
      fail(req, res, 'request', e);
    }
  };
  const server = createServer(onRequest);

  // A request node:http could not parse (or a socket error under one): 400 (431, 408) and close,
  // unless an answer is being written on that connection: then close once it is whole.
  server.on('clientError', (e: NodeJS.ErrnoException, socket: Socket) => {
    try {
      const entry = answering.get(socket);
      // A socket error (ECONNRESET, EPIPE, ...) rather than a parse error: nobody to answer.
      if (!isParseError(e.code)) {
        socket.destroy();
        return;
      }
      if (entry !== undefined && entry.open > 0) {
        entry.closeAfter = true;
        return;
      }
      log.debug({ reason: escapeClientText(e.code ?? e.message, 60) }, 'admin endpoint: unparsable request refused');
      const status = clientErrorStatus(e.code);
      endWith(socket, textReply(status, `${STATUS_CODES[status]?.toLowerCase() ?? 'bad request'}: the request could not be parsed as HTTP/1.1\n`));
    } catch (err) {
      internal('client-error', err);
      socket.destroy();
    }
  });
  // CONNECT is handed over with its socket (node:http then neither reads nor answers it).
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    try {
      socket.on('error', () => socket.destroy());
      endWith(socket, textReply(405, 'method not allowed: use GET or HEAD\n', { allow: 'GET, HEAD' }));
    } catch (err) {
      internal('connect', err);
      socket.destroy();
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => {
      sockets.delete(s);
      answering.delete(s);
    });
  });
  const where = formatHostPort(listen);
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => {
      reject(new PortplexError('PORTPLEX_ERR_LISTEN', `admin endpoint: cannot listen on ${where}: ${e.message}`, { cause: e }));
    };
    server.once('error', onError);
    server.listen(listen.port, listen.host, () => {
      server.off('error', onError);
      server.on('error', (e) => log.error({ err: e.message }, 'admin endpoint error'));
      const address = server.address() as AddressInfo;
      log.info({ admin: `http://${formatHostPort({ host: address.address, port: address.port })}/` }, 'admin endpoint listening');
      resolve({
        address,
        setAccess: (next) => {
          access = next;
        },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Keep-alive clients (browsers, Prometheus) would hold close() open: end them too.
            if (typeof server.closeAllConnections === 'function') server.closeAllConnections();
            else for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
