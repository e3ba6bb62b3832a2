/**
 * Builds DNS request datagrams for the tests (RFC 1035 §4.1 layout), field by field, so every case says
 * which header bit or record it changes.
 */

/** Wire form of a dotted name (no escapes); '.' or '' is the root. Labels may be given as bytes. */
export function dnsName(name: string | readonly (string | Uint8Array)[]): Buffer {
  const labels = typeof name === 'string' ? (name === '.' || name === '' ? [] : name.split('.')) : name;
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = typeof l === 'string' ? Buffer.from(l, 'latin1') : Buffer.from(l);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export interface RecordSpec {
  readonly name?: Buffer; // wire form, default the root
  readonly type: number;
  readonly cls?: number;
  readonly ttl?: number;
  readonly rdata?: Buffer;
}

export function dnsRecord(r: RecordSpec): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(r.type, 0);
  fixed.writeUInt16BE(r.cls ?? 1, 2);
  fixed.writeUInt32BE(r.ttl ?? 0, 4);
  const rdata = r.rdata ?? Buffer.alloc(0);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([r.name ?? Buffer.from([0]), fixed, rdata]);
}

/** An OPT pseudo-record (RFC 6891 §6.1.2): CLASS = UDP payload size, TTL = ext-rcode, version, DO, Z. */
export function optRecord(o: { size?: number; version?: number; dnssecOk?: boolean; options?: readonly (readonly [number, Buffer])[]; name?: Buffer } = {}): Buffer {
  const rdata = Buffer.concat(
    (o.options ?? []).map(([code, data]) => {
      const h = Buffer.alloc(4);
      h.writeUInt16BE(code, 0);
      h.writeUInt16BE(data.length, 2);
      return Buffer.concat([h, data]);
    }),
  );
  const ttl = (((o.version ?? 0) << 16) | (o.dnssecOk === true ? 0x8000 : 0)) >>> 0;
  return dnsRecord({ ...(o.name !== undefined ? { name: o.name } : {}), type: 41, cls: o.size ?? 1232, ttl, rdata });
}

export interface QuerySpec {
  readonly id?: number;
  readonly byte2?: number; // QR OPCODE AA TC RD; default 0x01 (QUERY, RD)
  readonly byte3?: number; // RA Z AD CD RCODE; default 0
  readonly counts?: readonly [number, number, number, number]; // default derived from the sections
  readonly qname?: Buffer; // wire form; default www.example.test
  readonly qtype?: number;
  readonly qclass?: number;
  readonly answers?: readonly Buffer[];
  readonly authority?: readonly Buffer[];
  readonly additional?: readonly Buffer[];
  readonly trailer?: Buffer;
}

export function dnsQuery(q: QuerySpec = {}): Buffer {
  const an = q.answers ?? [];
  const ns = q.authority ?? [];
  const ar = q.additional ?? [];
  const h = Buffer.alloc(12);
  h.writeUInt16BE(q.id ?? 0x1234, 0);
  h[2] = q.byte2 ?? 0x01;
  h[3] = q.byte3 ?? 0x00;
  const counts = q.counts ?? [1, an.length, ns.length, ar.length];
  counts.forEach((c, k) => h.writeUInt16BE(c, 4 + 2 * k));
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(q.qtype ?? 1, 0);
  tail.writeUInt16BE(q.qclass ?? 1, 2);
  return Buffer.concat([h, q.qname ?? dnsName('www.example.test'), tail, ...an, ...ns, ...ar, q.trailer ?? Buffer.alloc(0)]);
}
