/** Records the ClientHello that this Node's own TLS client sends, by accepting it on a plain TCP socket. */
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export async function recordClientHello(opts: { servername?: string; alpn?: string[]; minVersion?: 'TLSv1.2' | 'TLSv1.3'; maxVersion?: 'TLSv1.2' | 'TLSv1.3' }): Promise<Buffer> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => {
    server.once('connection', (s) => {
      let acc = Buffer.alloc(0);
      s.on('data', (c: Buffer) => {
        acc = Buffer.concat([acc, c]);
        // One handshake record: 5-byte header + length.
        if (acc.length >= 5 && acc.length >= 5 + acc.readUInt16BE(3)) {
          resolve(acc);
          s.destroy();
        }
      });
      s.on('error', () => undefined);
    });
  });
  const client = tlsConnect({
    host: '127.0.0.1',
    port,
    rejectUnauthorized: false,
    ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
    ...(opts.alpn ? { ALPNProtocols: opts.alpn } : {}),
    ...(opts.minVersion ? { minVersion: opts.minVersion } : {}),
    ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
  });
  client.on('error', () => undefined);
  const hello = await got;
  client.destroy();
  server.close();
  return hello;
}
