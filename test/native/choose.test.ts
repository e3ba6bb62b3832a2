/** Which data plane runs: the ask's precedence, what auto falls back on, and what a forced native refuses. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseDataplane, dataplaneRequest, portZeroListener } from '../../src/native/choose.js';
import type { AddonLoad, NativeAddon } from '../../src/native/addon.js';
import { compileRulesText } from '../../src/config/load.js';
import type { RulesConfig } from '../../src/config/types.js';

const rulesOf = (text: string): RulesConfig => {
  const r = compileRulesText(text, 'test.yaml');
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.rules;
};
const fixed = rulesOf('listeners: ["127.0.0.1:8443"]\nbackends: { web: { servers: ["127.0.0.1:1"] } }\ndefault: web\n');
const zero = rulesOf('listeners: [{ name: any, bind: "127.0.0.1:0" }]\nbackends: { web: { servers: ["127.0.0.1:1"] } }\ndefault: web\n');
const udpZero = rulesOf('listeners: ["127.0.0.1:8443", { bind: "127.0.0.1:0", transport: udp }]\nbackends: { web: { servers: ["127.0.0.1:1"] }, dns: { transport: udp, servers: ["127.0.0.1:53"] } }\ndefault: web\nudp: { default: dns }\n');

const built = (): AddonLoad => ({ ok: true, addon: {} as NativeAddon });
const missing = (): AddonLoad => ({ ok: false, reason: 'the addon was not built' });
const never = (): AddonLoad => assert.fail('the addon must not be loaded for this choice');

describe('dataplaneRequest: --dataplane, then PORTPLEX_DATAPLANE, then dataplane:, then auto', () => {
  it('the strongest that says something wins', () => {
    assert.deepEqual(dataplaneRequest('js', 'native', 'native'), { ask: 'js', source: '--dataplane' });
    assert.deepEqual(dataplaneRequest(undefined, 'js', 'native'), { ask: 'js', source: 'PORTPLEX_DATAPLANE' });
    assert.deepEqual(dataplaneRequest(undefined, '', 'js'), { ask: 'js', source: 'rules' });
    assert.deepEqual(dataplaneRequest(undefined, undefined, undefined), { ask: 'auto', source: 'default' });
  });
  it('a value that is none of auto, native, js is an error naming where it came from, never a silent pick', () => {
    assert.match((dataplaneRequest('Native', undefined, undefined) as { invalid: string }).invalid, /^--dataplane "Native": expected auto, native, js$/);
    assert.match((dataplaneRequest(undefined, 'splice', 'js') as { invalid: string }).invalid, /^PORTPLEX_DATAPLANE="splice"/);
  });
});

describe('chooseDataplane', () => {
  it('auto: native where the addon loads, else js with the reason it does not', () => {
    assert.deepEqual(chooseDataplane({ ask: 'auto', source: 'default' }, built, fixed, { workers: 4 }), { ok: true, dataplane: 'native', reason: 'the addon is built and loads' });
    assert.deepEqual(chooseDataplane({ ask: 'auto', source: 'default' }, missing, fixed, { workers: 1 }), { ok: true, dataplane: 'js', reason: 'the addon was not built' });
  });
  it('js is never refused and never loads the addon', () => {
    assert.deepEqual(chooseDataplane({ ask: 'js', source: 'rules' }, never, zero, { workers: 8 }), { ok: true, dataplane: 'js', reason: 'asked for (rules)' });
  });
  it('native: the addon, or an error that says why and what to do', () => {
    assert.deepEqual(chooseDataplane({ ask: 'native', source: '--dataplane' }, built, fixed, { workers: 2 }), { ok: true, dataplane: 'native', reason: 'asked for (--dataplane)' });
    const r = chooseDataplane({ ask: 'native', source: 'PORTPLEX_DATAPLANE' }, missing, fixed, { workers: 1 });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.message : '', /asked for \(PORTPLEX_DATAPLANE\), but the addon was not built; or run with --dataplane js/);
  });
  it('a TCP listener on port 0 with several workers: auto takes js (one shared port), native is refused', () => {
    const auto = chooseDataplane({ ask: 'auto', source: 'default' }, never, zero, { workers: 2 });
    assert.equal(auto.ok && auto.dataplane, 'js');
    assert.match(auto.ok ? auto.reason : '', /listener "any" binds port 0 and there are 2 workers/);
    const forced = chooseDataplane({ ask: 'native', source: '--dataplane' }, never, zero, { workers: 2 });
    assert.match(!forced.ok ? forced.message : '', /give the listener a port, run with --workers 1, or use --dataplane js/);
    // One process, or a UDP listener (UDP stays on node:dgram), keeps native.
    assert.equal(chooseDataplane({ ask: 'native', source: '--dataplane' }, built, zero, { workers: 1 }).ok, true);
    assert.equal(portZeroListener(udpZero, 4), undefined);
    assert.equal(portZeroListener(zero, 1), undefined);
  });
});

describe('dataplane: in the rules', () => {
  it('takes auto, native or js; anything else is an error at its line', () => {
    assert.equal(rulesOf('dataplane: js\nlisteners: ["127.0.0.1:1"]\nbackends: { w: { servers: ["127.0.0.1:1"] } }\ndefault: w\n').dataplane, 'js');
    assert.equal(fixed.dataplane, undefined);
    const bad = compileRulesText('dataplane: splice\nlisteners: ["127.0.0.1:1"]\nbackends: { w: { servers: ["127.0.0.1:1"] } }\ndefault: w\n', 'x.yaml');
    assert.equal(bad.ok, false);
    assert.match(JSON.stringify(!bad.ok ? bad.issues : []), /dataplane.*auto.*native.*js/);
    assert.equal(!bad.ok && bad.issues[0]?.line, 1);
  });
});
