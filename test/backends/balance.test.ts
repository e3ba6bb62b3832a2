/** Each balancing algorithm's distribution over many picks. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerConfig } from '../../src/config/types.js';
import { pickServer } from '../../src/backends/balance.js';
import { ServerState } from '../../src/backends/server-state.js';

function servers(...weights: number[]): ServerState[] {
  return weights.map((weight, i) => new ServerState({ host: '127.0.0.1', port: 1000 + i, address: `127.0.0.1:${1000 + i}`, backup: false, weight, maxConnections: 0, sendProxy: 'off', transparent: false } satisfies ServerConfig));
}

function counts(picks: (ServerState | undefined)[]): number[] {
  const m = new Map<number, number>();
  for (const p of picks) m.set(p!.config.port, (m.get(p!.config.port) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
}

describe('balancing', () => {
  it('roundrobin follows the weights exactly and interleaves (smooth WRR)', () => {
    const s = servers(5, 1, 1);
    const picks = Array.from({ length: 700 }, (_, i) => pickServer('roundrobin', s, '10.0.0.1', i));
    assert.deepEqual(counts(picks), [500, 100, 100]);
    // Smooth: the heavy server never gets more than its share in a row of 7.
    const first7 = picks.slice(0, 7).map((p) => p!.config.port);
    assert.deepEqual(first7, [1000, 1000, 1001, 1000, 1002, 1000, 1000]);
  });

  it('leastconn picks the server with the fewest active connections per weight, ties in turn', () => {
    const s = servers(1, 1, 2);
    s[0]!.active = 3;
    s[1]!.active = 1;
    s[2]!.active = 3; // (3+1)/2 = 2 vs (1+1)/1 = 2: a tie between 1001 and 1002
    const picks = Array.from({ length: 4 }, (_, i) => pickServer('leastconn', s, 'x', i)!.config.port);
    assert.deepEqual(picks, [1001, 1002, 1001, 1002]);
    // Simulated load: connections land where the fewest are open.
    const t = servers(1, 1, 1);
    for (let i = 0; i < 300; i++) pickServer('leastconn', t, 'x', i)!.active++;
    assert.deepEqual(t.map((x) => x.active), [100, 100, 100]);
  });

  it('source: the same client always lands on the same server, clients spread by weight', () => {
    const s = servers(1, 1, 2);
    for (let i = 0; i < 50; i++) {
      const a = `192.0.2.${i}`;
      const first = pickServer('source', s, a, 0);
      for (let k = 1; k < 5; k++) assert.equal(pickServer('source', s, a, k), first);
    }
    const picks = Array.from({ length: 4000 }, (_, i) => pickServer('source', s, `10.${(i >> 8) & 255}.${i & 255}.7`, 0));
    const c = counts(picks);
    assert.ok(c[2]! > c[0]! * 1.6 && c[2]! > c[1]! * 1.6, `weight 2 gets about twice: ${c.join(',')}`);
    assert.ok(Math.abs(c[0]! - c[1]!) < 400, `equal weights get about the same: ${c.join(',')}`);
  });

  it('first: always the first candidate in file order', () => {
    const s = servers(1, 1);
    assert.equal(pickServer('first', s, 'x', 0), s[0]);
    assert.equal(pickServer('first', s.slice(1), 'x', 0), s[1]);
  });

  it('no candidates: undefined', () => {
    assert.equal(pickServer('roundrobin', [], 'x', 0), undefined);
  });
});
