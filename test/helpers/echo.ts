/** Backends that say who they are, and clients that check what comes back: for reload and worker tests. */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export type Scope = { after: (fn: () => unknown) => void };

/** A backend that first says its name, then echoes everything. */
export async function namedEcho(t: Scope, name: string): Promise<number> {
  return (await namedEchoServer(t, name)).port;
}

/** A backend that only echoes. */
export async function echoBackend(t: Scope): Promise<number> {
  return (await namedEchoServer(t, undefined)).port;
}

/** The same, also telling which connections are open now (their peer is a portplex process); no name: a plain echo. */
export async function namedEchoServer(t: Scope, name: string | undefined): Promise<{ port: number; open: () => Socket[] }> {
  const held = new Set<Socket>();
  const s = createServer({ allowHalfOpen: true }, (c) => {
    held.add(c);
    c.on('error', () => undefined);
    c.on('close', () => held.delete(c));
    if (name !== undefined) c.write(`${name}\n`);
    c.pipe(c);
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  t.after(() => {
    for (const c of held) c.destroy();
    s.close();
  });
  return { port: (s.address() as AddressInfo).port, open: () => [...held] };
}

/** Which backend a new HTTP-looking connection reaches (closed cleanly: a reset would log client-error). */
export async function whoServes(port: number): Promise<string> {
  const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  c.on('error', () => undefined);
  await once(c, 'connect');
  const parts: Buffer[] = [];
  c.on('data', (d: Buffer) => parts.push(d));
  c.on('end', () => c.end());
  const closed = once(c, 'close');
  c.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await closed;
  const got = Buffer.concat(parts).toString('latin1');
  if (!got.includes('\n')) throw new Error(`no answer (ECONNRESET or premature close): ${JSON.stringify(got)}`);
  return got.split('\n')[0]!;
}

/**
 * A long transfer: writes random bytes in 16 KiB chunks, paced, until `total` bytes are sent or
 * (when given) `until` has settled, then half-closes; `done` hashes what was sent and echoed.
 */
export function longTransfer(port: number, opts: { readonly total?: number; readonly until?: Promise<unknown> }): { started: Promise<string>; done: Promise<{ sent: string; echoed: string; bytes: number; sentBytes: number }> } {
  const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  c.on('error', () => undefined);
  const sent = createHash('sha256');
  const echoed = createHash('sha256');
  let banner: string | undefined;
  let pending = Buffer.alloc(0);
  let bytes = 0;
  let resolveStart: (s: string) => void = () => undefined;
  const started = new Promise<string>((r) => (resolveStart = r));
  c.on('data', (d: Buffer) => {
    if (banner === undefined) {
      pending = Buffer.concat([pending, d]);
      const nl = pending.indexOf(10);
      if (nl < 0) return;
      banner = pending.subarray(0, nl).toString('latin1');
      resolveStart(banner);
      d = pending.subarray(nl + 1);
    }
    echoed.update(d);
    bytes += d.length;
  });
  const done = (async () => {
    await once(c, 'connect');
    const head = Buffer.from('GET /long HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1');
    sent.update(head);
    c.write(head);
    let sentBytes = head.length;
    let stop = false;
    void opts.until?.then(() => (stop = true));
    let left = (opts.total ?? Number.MAX_SAFE_INTEGER) - head.length;
    while (left > 0 && !stop) {
      const chunk = randomBytes(Math.min(left, 16 * 1024));
      sent.update(chunk);
      left -= chunk.length;
      sentBytes += chunk.length;
      if (!c.write(chunk)) await once(c, 'drain');
      await new Promise((r) => setTimeout(r, 2));
    }
    c.end();
    await once(c, 'close');
    return { sent: sent.digest('hex'), echoed: echoed.digest('hex'), bytes, sentBytes };
  })();
  return { started, done };
}

