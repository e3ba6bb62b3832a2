/** A real TLS ClientHello to send or to explain, shared by doctor (its probes) and explain (--sni). */
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { parseClientHello } from '../protocols/tls/client-hello.js';

export type HelloResult = { ok: true; hello: Buffer } | { ok: false; error: string };

/**
 * A real ClientHello from this Node's TLS stack: tls.connect over an in-memory duplex whose writes
 * are captured until one complete hello has been written; nothing goes on the network.
 */
export function buildClientHello(
  opts: { servername?: string | undefined; alpn?: readonly string[] | undefined; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; timeoutMs?: number } = {},
): Promise<HelloResult> {
  return new Promise<HelloResult>((resolve) => {
    let acc: Buffer = Buffer.alloc(0);
    let settled = false;
    let tls: ReturnType<typeof tlsConnect> | undefined;
    const finish = (r: HelloResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // tls.connect writes the hello synchronously: destroy on a later tick, once it is constructed.
      setImmediate(() => {
        tls?.destroy();
        duplex.destroy();
      });
      resolve(r);
    };
    const duplex = new Duplex({
      read() {
        /* the server never answers */
      },
      write(chunk: Buffer, _enc, cb) {
        if (!settled) {
          acc = Buffer.concat([acc, chunk]);
          const r = parseClientHello(acc);
          if (r.kind === 'ok') finish({ ok: true, hello: Buffer.from(acc.subarray(0, r.length)) });
          else if (r.kind === 'invalid') finish({ ok: false, error: `node produced an unparsable ClientHello: ${r.reason}` });
        }
        cb();
      },
    });
    duplex.on('error', () => undefined);
    const timer = setTimeout(() => finish({ ok: false, error: 'node did not produce a ClientHello' }), opts.timeoutMs ?? 2000);
    try {
      tls = tlsConnect({
        socket: duplex,
        rejectUnauthorized: false,
        ...(opts.servername !== undefined && opts.servername !== '' ? { servername: opts.servername } : {}),
        ...(opts.alpn !== undefined && opts.alpn.length > 0 ? { ALPNProtocols: [...opts.alpn] } : {}),
        ...(opts.maxVersion !== undefined ? { maxVersion: opts.maxVersion } : {}),
      });
      tls.on('error', (e: Error) => finish({ ok: false, error: e.message }));
    } catch (e) {
      finish({ ok: false, error: (e as Error).message });
    }
  });
}
