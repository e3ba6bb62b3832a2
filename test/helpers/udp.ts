/** Loopback UDP helpers: backends that record and answer every datagram, and clients that collect answers. */
import { once } from 'node:events';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export interface Received {
  readonly data: Buffer;
  readonly from: RemoteInfo;
}

/** Collects datagrams and lets a test wait for the n-th one. */
class Inbox {
  readonly received: Received[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  push(r: Received): void {
    this.received.push(r);
    this.waiters = this.waiters.filter((w) => (this.received.length >= w.n ? (w.resolve(), false) : true));
  }
  /** Resolves once `n` datagrams in all have arrived; rejects after `ms`. */
  async count(n: number, ms = 3000): Promise<Received[]> {
    if (this.received.length < n) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`waited ${ms} ms for ${n} datagrams, got ${this.received.length}`)), ms);
        this.waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
      });
    }
    return this.received.slice(0, n);
  }
}

export interface UdpBackend {
  readonly socket: Socket;
  readonly port: number;
  readonly inbox: Inbox;
  close(): Promise<void>;
}

/** A UDP server that records every datagram and answers each with `name:` and what it got. */
export async function udpBackend(name: string, answer = true): Promise<UdpBackend> {
  const socket = createSocket('udp4');
  const inbox = new Inbox();
  socket.on('message', (data, from) => {
    inbox.push({ data, from });
    if (answer) socket.send(Buffer.concat([Buffer.from(`${name}:`), data]), from.port, from.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { socket, port: socket.address().port, inbox, close: () => new Promise((r) => socket.close(() => r())) };
}

export interface UdpClient {
  readonly socket: Socket;
  readonly port: number;
  readonly inbox: Inbox;
  send(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** A UDP client bound to its own port on `host` (127.0.0.1; any 127/8 address works on Linux), sending to `port` on 127.0.0.1. */
export async function udpClient(port: number, localPort = 0, host = '127.0.0.1'): Promise<UdpClient> {
  const socket = createSocket('udp4');
  const inbox = new Inbox();
  socket.on('message', (data, from) => inbox.push({ data, from }));
  socket.bind(localPort, host);
  await once(socket, 'listening');
  return {
    socket,
    port: socket.address().port,
    inbox,
    send: (data) => new Promise((resolve, reject) => socket.send(data, port, '127.0.0.1', (e) => (e ? reject(e) : resolve()))),
    close: () => new Promise((r) => socket.close(() => r())),
  };
}
