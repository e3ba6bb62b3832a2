/**
 * Property: whatever bytes a client sends to the admin endpoint, the answer is a 1xx-4xx status
 * line or a close — never a 5xx, never a caught internal error, never a crash of this process —
 * and the endpoint answers /healthz afterwards. Generated request lines mix the forms of RFC 9112
 * §3.2 with broken authorities, percent-encodings, ports out of range and odd methods and
 * versions; header blocks mix Host and Authorization forms with junk fields; then, half of the
 * time, the bytes are mutated (flips, runs of CR/LF/NUL, deletions, duplicated slices).
 * Over a real loopback socket, with a fixed seed (printed with any counterexample).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startAdminServer } from '../../src/admin/server.js';
import { tokenDigest } from '../../src/config/admin-token.js';
import { hostPolicy } from '../../src/admin/host-check.js';
import { LogCapture } from '../helpers/net.js';
import { mulberry32, mutate } from '../helpers/fuzz.js';
import { ADMIN_RULES, adminState, compileOrFail, firstStatus, metricsSource, rawExchange, standardScene } from '../helpers/admin.js';
import { checkAsync, runs } from '../property/support.js';

const rules = compileOrFail(ADMIN_RULES);
const TOKEN = 'cHJvcGVydHktdGVzdC10b2tlbg';

const pick = <T>(...xs: T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);
const junk = (alphabet: string, max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...alphabet), maxLength: max });
const HOSTISH = 'az09.-:[]%@_~';
const PATHISH = "/?#%:@[]*.!$&'()+,;=aZ09-_~ \\\"<>^`{|}";

const portArb = fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), pick('', '99999', '00080', '-1', '1e3', '65536', '0'));
const hostArb = fc.oneof(
  pick('127.0.0.1', 'localhost', 'attacker.example', '[::1]', '[::ffff:127.0.0.1]', '[fe80::1%25lo]', '[v1.x]', '', '[', '::1', 'portplex.example', 'u@127.0.0.1'),
  junk(HOSTISH, 20),
);
const authorityArb = fc.tuple(hostArb, fc.option(portArb)).map(([h, p]) => (p === null ? h : `${h}:${p}`));
/** Mostly the usual, sometimes the odd: each part of a request is broken in a share of the runs, so every answer is reached. */
const usually = <T>(common: fc.Arbitrary<T>, odd: fc.Arbitrary<T>, oddWeight = 2): fc.Arbitrary<T> => fc.oneof({ arbitrary: common, weight: 6 }, { arbitrary: odd, weight: oddWeight });

const pathArb = usually(
  pick('/', '/metrics', '/healthz', '/readyz', '/status.json', '/nope', '/%68ealthz', '/metrics?from=prometheus'),
  fc.oneof(pick('//[', '//', '/%', '/%zz', '/a#b', '/./metrics', '/metrics?x=%2', '/?', '//a:99999'), junk(PATHISH, 30).map((s) => `/${s}`), junk(PATHISH, 20)),
);
const targetArb = usually(
  pathArb,
  fc.oneof(
    pick('*', '', 'http:', 'http:/', 'http://', 'ftp://a/'),
    fc.tuple(pick('http', 'https', 'HTTP', 'h2c', 'http+x'), authorityArb, pathArb).map(([s, a, p]) => `${s}://${a}${p.startsWith('/') ? p : `/${p}`}`),
    authorityArb,
  ),
);
const methodArb = usually(pick('GET', 'HEAD'), fc.oneof(pick('POST', 'OPTIONS', 'PUT', 'DELETE', 'CONNECT', 'TRACE', 'PRI', 'get', 'G ET', ''), junk('ABCDEFGHIJKLMNOPQRSTUVWXYZ-_!', 10)));
const versionArb = usually(pick('HTTP/1.1', 'HTTP/1.0'), fc.oneof(pick('HTTP/2.0', 'HTTP/1.x', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 x', ''), junk('HTP/.019', 10)), 1);
const headerArb = fc.oneof(
  { arbitrary: authorityArb.map((a) => `Host: ${a}`), weight: 2 },
  {
    arbitrary: pick(`Authorization: Bearer ${TOKEN}`, 'Authorization: Bearer x', 'Authorization: Basic Zm9vOmJhcg==', 'Authorization:', 'Expect: 100-continue', 'Expect: x', 'Connection: close', 'Connection: upgrade', 'Upgrade: h2c', 'Transfer-Encoding: chunked', 'Content-Length: 3', 'Content-Length: -1', 'Content-Length: 99999999999999999999', 'Accept: */*'),
    weight: 3,
  },
  { arbitrary: fc.tuple(junk('Xa-z:_ \t', 12), junk('a\t \x00\x7f\x80:;,"=', 20)).map(([n, v]) => `${n}: ${v}`), weight: 1 },
);
const requestArb = fc
  .record({
    method: methodArb,
    target: targetArb,
    version: versionArb,
    headers: fc.array(headerArb, { maxLength: 4 }),
    withHost: usually(fc.constant(true), fc.constant(false)),
    body: fc.option(junk('0123456789abcdef\r\n', 20)),
    mutation: fc.option(fc.integer({ min: 1, max: 2 ** 31 - 1 }), { freq: 1 }),
  })
  .map((r) => {
    const head = `${r.method} ${r.target} ${r.version}\r\n${r.withHost ? 'Host: 127.0.0.1\r\n' : ''}${r.headers.map((h) => `${h}\r\n`).join('')}\r\n${r.body ?? ''}`;
    const bytes = Buffer.from(head, 'latin1');
    return r.mutation === null ? bytes : mutate(mulberry32(r.mutation), bytes, { interesting: [0x00, 0x0a, 0x0d, 0x20, 0x25, 0x2f, 0x3a, 0x40, 0x5b, 0x5d, 0x7f, 0xff] });
  });

describe('admin endpoint: random and mutated requests over a real socket', () => {
  for (const [name, seed, withToken] of [['no token', 15200, false], ['token and allowed_hosts', 15201, true]] as const) {
    it(`every answer is a 1xx-4xx status line or a close; no internal error; /healthz answers after (${name}, seed ${seed}, ${runs(300)} runs)`, async (t) => {
      const logs = new LogCapture('info');
      const access = withToken ? { hosts: hostPolicy(['portplex.example']), token: { required: true, digest: tokenDigest(TOKEN) } } : undefined;
      const admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, metricsSource(standardScene(rules), () => adminState(rules)), logs.logger, access);
      t.after(() => admin.close());
      const seen = new Map<number | undefined, number>();
      await checkAsync(
        fc.asyncProperty(requestArb, async (bytes) => {
          const answer = await rawExchange(admin.address.port, bytes);
          const status = firstStatus(answer);
          seen.set(status, (seen.get(status) ?? 0) + 1);
          if (answer !== '') assert.match(answer, /^HTTP\/1\.1 [1-4]\d\d [^\r\n]*\r\n/, `answered ${JSON.stringify(answer.slice(0, 60))}`);
          assert.ok(status === undefined || status < 500, `status ${status}`);
          assert.deepEqual(logs.lines.filter((l) => l.code === 'PORTPLEX_ERR_ADMIN_INTERNAL'), []);
        }),
        seed,
        300,
      );
      assert.equal(firstStatus(await rawExchange(admin.address.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')), 200);
      // The generators reach the interesting answers, not only 400s.
      const reached = [...seen.keys()].filter((s): s is number => s !== undefined);
      for (const s of withToken ? [200, 400, 401, 405, 421] : [200, 400, 404, 405, 421]) assert.ok(reached.includes(s), `status ${s} never answered: ${JSON.stringify([...seen])}`);
    });
  }
});
