/**
 * The promise behind `needed` (src/protocols/result.ts, src/inspect/facts.ts): a parser that
 * answers incomplete with `needed: N` over n bytes is not asked again before N bytes are in, so its
 * answer must stay incomplete at every length between n and N. A `needed` that is too large makes
 * a route wait for bytes that decide nothing: a route after `protocol: openvpn` then waited for the
 * inspect deadline whenever an RDP request (03 00 ...) arrived split after its second byte.
 *
 * Checked for every TCP parser over every first message of every protocol (a parser meets the other
 * protocols' bytes on a shared port), over the prefixes that decide them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileRulesText } from '../../src/config/load.js';
import { Facts } from '../../src/inspect/facts.js';
import { RouteTable } from '../../src/router/route-table.js';
import { PARSERS, type ParserKey } from '../../src/protocols/table.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { FIRST_MESSAGES } from '../helpers/first-messages.js';

/** Prefixes up to this length: every parser's answer on these messages is settled well before. */
const SCAN = 320;

describe('a parser asked again only at `needed` misses no earlier answer', () => {
  const messages = Object.entries(FIRST_MESSAGES).flatMap(([from, list]) => (list ?? []).map((m, i) => ({ name: `${from}[${i}]`, bytes: m })));
  for (const [key, parse] of Object.entries(PARSERS) as [ParserKey, NonNullable<(typeof PARSERS)[ParserKey]>][]) {
    it(key, () => {
      const broken: string[] = [];
      for (const { name, bytes } of messages) {
        // The largest `needed` promised by a shorter prefix: no answer may change before it.
        let promised = 0;
        let promisedAt = 0;
        for (let n = 0; n <= Math.min(bytes.length, SCAN); n++) {
          const r = parse(bytes.subarray(0, n), DEFAULTS.inspectMaxBytes);
          if (r.kind !== 'incomplete') {
            if (n < promised) broken.push(`${name}: incomplete(needed ${promised}) at ${promisedAt} bytes, but ${r.kind} at ${n}`);
            break;
          }
          // A resumable answer is carried on at every growth (facts.ts): its `needed` promises nothing.
          if (!('resume' in r) && r.needed !== undefined && r.needed > promised) {
            promised = r.needed;
            promisedAt = n;
          }
        }
      }
      assert.deepEqual(broken, []);
    });
  }
});

describe('a route after another protocol decides when its bytes are in, however they were split', () => {
  const rules = compileRulesText(
    `listeners: ["127.0.0.1:0"]\nbackends:\n  vpn: { servers: ["127.0.0.1:1"] }\n  rdp: { servers: ["127.0.0.1:2"] }\n  pg: { servers: ["127.0.0.1:3"] }\nroutes:\n  - { name: openvpn, when: { protocol: openvpn }, to: vpn }\n  - { name: rdp, when: { protocol: rdp }, to: rdp }\n  - { name: postgres, when: { protocol: postgres }, to: pg }\n`,
    't.yaml',
  );
  assert.ok(rules.ok);
  const table = new RouteTable(rules.rules);
  const fixture = (name: string): Buffer => readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url));
  for (const [name, route] of [
    ['rdp-xfreerdp-connection-request.bin', 'rdp'],
    ['postgres-psql15-sslrequest.bin', 'postgres'],
  ] as const) {
    it(`${name}: split at every offset, routed to ${route} once all of it is in (not at the inspect deadline)`, () => {
      const whole = fixture(name);
      for (let cut = 1; cut < whole.length; cut++) {
        const facts = new Facts(16384);
        const at = (bytes: Uint8Array) => {
          facts.update(bytes);
          const d = table.decide({ bytes, final: false, elapsedMs: 0, srcAddress: '192.0.2.1', srcPort: 40000, localAddress: '127.0.0.1', localPort: 443, facts });
          return d.kind === 'wait' ? 'wait' : (d.route?.name ?? 'default');
        };
        at(whole.subarray(0, cut));
        assert.equal(at(whole), route, `split at ${cut}`);
      }
    });
  }
});
