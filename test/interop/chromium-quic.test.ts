/**
 * QUIC routing with a real client: headless Chromium opens https://a.test:<port>/ (then b.test) over
 * QUIC to a portplex UDP listener, and portplex must send its Initial packets to the backend of the
 * route whose tls conditions match the SNI (and ALPN) of the ClientHello inside them.
 *
 * The backends only record datagrams (no QUIC server): Chromium's handshake never completes, it
 * retransmits its Initials until it gives up (~5 s, net::ERR_QUIC_PROTOCOL_ERROR). The test stops it
 * as soon as the backend holds the whole hello plus one retransmission (~1-2 s per run).
 *
 * Measured with Debian's Chromium 156.0.8078.79 (2026-11-23, every run the same): every client datagram
 * is 1250 bytes, one QUIC v1 Initial packet each (no coalescing, no token, 8-byte DCID, empty SCID); the
 * ClientHello (~1.9 KB, varying by run: an X25519MLKEM768 key share, a GREASE ECH extension) spans the
 * first TWO Initials, sent back to back ~0.7-1 s after spawning, its CRYPTO frames scrambled across both
 * ("chaos protection"); retransmissions (PTO) follow ~0.3, 0.9, 2.1 and 4 s later, then a
 * CONNECTION_CLOSE. Packet numbers start at 1 and skip some (1, 2, 4, 5...). SNI a.test, ALPN ["h3"]
 * only, TLS 1.3 only. Stopping Chromium (SIGTERM) usually makes it send one more 1250-byte Initial, a
 * CONNECTION_CLOSE, which the flow relays to the same backend like the rest.
 * test/fixtures/chromium-156-quic-initials.bin holds such a recording.
 * The test runs in ~3 s.
 *
 * Flags: --enable-quic and --origin-to-force-quic-on=<host>:<port> (QUIC without an Alt-Svc and
 * without a TCP attempt), --host-resolver-rules to map the names to 127.0.0.1, --ignore-certificate-errors.
 *
 * Skipped when chromium is absent (Debian package "chromium"), a failure under CI=true.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startFromYaml } from '../helpers/net.js';
import { udpBackend, type UdpBackend } from '../helpers/udp.js';
import { chromiumBaseArgs, describeExit, makeTempDir, requireTool, spawnBounded, withTimeout } from '../helpers/interop.js';
import { parseQuicClientHello, parseQuicLongHeader, QUIC_MIN_INITIAL_DATAGRAM, QUIC_VERSION_1, type QuicClientHello } from '../../src/protocols/quic/initial.js';

/** Headless Chromium speaking QUIC to https://<host>:<port>/ (both names resolve to 127.0.0.1). */
function chromiumQuicArgs(profile: string, host: string, port: number): string[] {
  return [
    ...chromiumBaseArgs(profile),
    '--enable-quic',
    `--origin-to-force-quic-on=${host}:${port}`,
    '--host-resolver-rules=MAP a.test 127.0.0.1,MAP b.test 127.0.0.1',
    '--ignore-certificate-errors',
    '--dump-dom',
    `https://${host}:${port}/`,
  ];
}

interface Attempt {
  /** The datagrams the backend got (the hello's and one retransmission at least). */
  readonly datagrams: Buffer[];
  readonly hello: QuicClientHello;
  /** From spawning Chromium to the backend holding the whole hello. */
  readonly helloMs: number;
}

/**
 * Runs Chromium against `host` through portplex and waits until `backend` has the whole ClientHello
 * and then one more datagram (a retransmission: the flow keeps its backend); then stops Chromium.
 */
async function quicAttempt(t: TestContext, chromium: string, host: string, port: number, backend: UdpBackend): Promise<Attempt> {
  const dir = makeTempDir(t, 'portplex-chromium-quic-');
  const skip = backend.inbox.received.length;
  const started = performance.now();
  const proc = spawnBounded(t, chromium, chromiumQuicArgs(join(dir, 'profile'), host, port), { name: `chromium (${host})`, lifetimeMs: 15_000 });
  const exited = proc.exited.then((e) => {
    throw new Error(`chromium (${host}) ${describeExit(e)} before the backend had the hello and a retransmission; backend got ${backend.inbox.received.length} datagram(s). stderr:\n${proc.stderr().slice(-3000)}`);
  });
  exited.catch(() => undefined);
  try {
    let hello: QuicClientHello | undefined;
    let helloMs = 0;
    for (let n = 1; ; n++) {
      const got = (await Promise.race([backend.inbox.count(skip + n, 10_000), exited])).slice(skip);
      if (hello === undefined) {
        const r = parseQuicClientHello(got.map((g) => g.data), -1);
        assert.notEqual(r.kind, 'invalid', `datagrams 1..${n} at the backend: ${r.kind === 'invalid' ? r.reason : ''}`);
        if (r.kind === 'ok') {
          hello = r.value;
          helloMs = performance.now() - started;
        }
      } else {
        return { datagrams: got.map((g) => g.data), hello, helloMs };
      }
    }
  } finally {
    await withTimeout(proc.stop('SIGTERM', 2000), 5000, `chromium (${host}) to stop`);
  }
}

/** The checks every client datagram must pass: one QUIC v1 Initial, at least 1200 bytes, one connection. */
function assertInitials(datagrams: readonly Buffer[]): void {
  const dcids = new Set<string>();
  for (const [i, d] of datagrams.entries()) {
    assert.ok(d.length >= QUIC_MIN_INITIAL_DATAGRAM, `datagram ${i}: ${d.length} bytes`);
    assert.equal(d[0]! & 0xf0, 0xc0, `datagram ${i}: long header, fixed bit, Initial (first byte 0x${d[0]!.toString(16)})`);
    const h = parseQuicLongHeader(d);
    assert.equal(h.kind, 'ok', `datagram ${i}: ${h.kind === 'invalid' ? h.reason : ''}`);
    if (h.kind !== 'ok') return;
    assert.equal(h.value.version, QUIC_VERSION_1, `datagram ${i}: version 0x${h.value.version.toString(16)}`);
    assert.equal(h.value.type, 'initial', `datagram ${i}`);
    assert.ok(h.value.dcid.length >= 8, `datagram ${i}: DCID of ${h.value.dcid.length} bytes`);
    dcids.add(h.value.dcidHex);
  }
  assert.equal(dcids.size, 1, `one connection attempt: DCIDs ${[...dcids].join(', ')}`);
}

describe('QUIC from headless Chromium through a UDP listener', () => {
  it('sends the Initials for a.test to backend a and those for b.test to backend b, by the SNI of the hello inside them', { timeout: 40_000 }, async (t) => {
    const chromium = requireTool(t, 'chromium');
    if (chromium === undefined) return;

    const a = await udpBackend('a', false);
    const b = await udpBackend('b', false);
    t.after(() => Promise.all([a.close(), b.close()]));
    const p = await startFromYaml(`listeners:
  - { name: quic, bind: "127.0.0.1:0", transport: udp }
backends:
  a: { transport: udp, servers: ["127.0.0.1:${a.port}"] }
  b: { transport: udp, servers: ["127.0.0.1:${b.port}"] }
routes:
  - { name: a, when: { tls: { sni: a.test, alpn: [h3] } }, to: a }
  - { name: b, when: { tls: { sni: b.test } }, to: b }
`);
    let closed = false;
    const closePortplex = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await p.close();
    };
    t.after(closePortplex);

    const dcidOf = (d: Buffer): string => {
      const h = parseQuicLongHeader(d);
      return h.kind === 'ok' ? h.value.dcidHex : `(${h.kind === 'invalid' ? h.reason : h.kind})`;
    };
    /** The DCID of each run: Chromium's connection attempt, and so the flow. */
    const dcids = new Map<UdpBackend, string>();
    for (const [host, to, other] of [
      ['a.test', a, b],
      ['b.test', b, a],
    ] as const) {
      const otherBefore = other.inbox.received.length;
      const run = await quicAttempt(t, chromium, host, p.udpPort, to);
      assertInitials(run.datagrams);
      const { hello } = run;
      dcids.set(to, hello.dcidHex);
      assert.equal(hello.version, QUIC_VERSION_1);
      assert.equal(hello.hello.sni, host);
      assert.ok(hello.hello.alpn.includes('h3'), `ALPN ${JSON.stringify(hello.hello.alpn)}`);
      // Chromium's post-quantum hello (~1.9 KB) is larger than one Initial holds (~1200 bytes of payload).
      assert.ok(hello.datagrams >= 2, `the hello took ${hello.datagrams} datagram(s)`);
      // The other backend may still get a late datagram of ITS run (Chromium's last packet as it stops), never one of this run.
      const astray = other.inbox.received.slice(otherBefore).filter((r) => dcidOf(r.data) === hello.dcidHex);
      assert.equal(astray.length, 0, `the other backend got ${astray.length} datagram(s) of the ${host} connection`);
      t.diagnostic(
        `${host}: hello in ${hello.datagrams} datagram(s) / ${hello.packets} Initial packet(s) after ${Math.round(run.helloMs)} ms; ` +
          `datagram sizes ${run.datagrams.map((d) => d.length).join(', ')}; version 0x${hello.version.toString(16)}; DCID ${hello.dcidHex}; ` +
          `SCID "${hello.scidHex}"; ALPN ${hello.hello.alpn.join(',')}; ECH ${hello.hello.ech}`,
      );
    }
    assert.equal(p.running.flows.size, 2, 'one flow per Chromium run');

    await closePortplex();
    const flows = p.logs.lines.filter((l) => l['msg'] === 'flow closed');
    assert.deepEqual(
      flows.map((l) => [l['route'], l['backend'], l['protocol'], l['sni'], l['alpn'], l['reason']]).sort(),
      [
        ['a', 'a', 'quic', 'a.test', ['h3'], 'listener-closed'],
        ['b', 'b', 'quic', 'b.test', ['h3'], 'listener-closed'],
      ],
      JSON.stringify(flows),
    );
    for (const l of flows) {
      const d = l['datagrams'] as { from_client: number; to_client: number; dropped: number };
      const backend = l['backend'] === 'a' ? a : b;
      assert.equal(d.dropped, 0);
      assert.equal(d.to_client, 0);
      // Every datagram portplex took from Chromium reaches the backend (the last ones may still be on their way).
      const got = await backend.inbox.count(d.from_client, 2000);
      assert.equal(backend.inbox.received.length, d.from_client, `backend ${l['backend']}: got more than the flow relayed`);
      assertInitials(got.map((r) => r.data));
      assert.deepEqual([...new Set(got.map((r) => dcidOf(r.data)))], [dcids.get(backend)], `backend ${l['backend']} got only its own connection`);
      assert.equal(new Set(got.map((r) => r.from.port)).size, 1, `backend ${l['backend']}: every datagram came from the one backend socket of the flow`);
      t.diagnostic(`backend ${l['backend']}: ${got.length} datagrams in all (${got.map((r) => r.data.length).join(', ')} bytes)`);
    }
  });
});
