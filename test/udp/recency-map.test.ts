import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RecencyMap, type RemovedBecause } from '../../src/udp/recency-map.js';

function tracked(max: number): { map: RecencyMap<number>; removed: Array<[string, number, RemovedBecause]> } {
  const removed: Array<[string, number, RemovedBecause]> = [];
  return { map: new RecencyMap<number>(max, (v, k, why) => removed.push([k, v, why])), removed };
}

describe('RecencyMap (the UDP flow table order)', () => {
  it('evicts the least recently used entry when a new one needs the room; get marks use, peek does not', () => {
    const { map, removed } = tracked(3);
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    assert.equal(map.get('a'), 1);
    assert.equal(map.peek('b'), 2);
    map.set('d', 4);
    assert.deepEqual(removed, [['b', 2, 'evict']]);
    assert.deepEqual([...map.values()], [3, 1, 4]);
    assert.equal(map.size, 3);
  });

  it('deletes with a reason, replaces a key as just used, and a missing key is no removal', () => {
    const { map, removed } = tracked(2);
    map.set('a', 1);
    map.set('b', 2);
    map.set('a', 10);
    assert.deepEqual([...map.values()], [2, 10]);
    assert.deepEqual(removed, [['a', 1, 'delete']]);
    assert.equal(map.delete('b'), true);
    assert.equal(map.delete('b'), false);
    assert.deepEqual(removed.at(-1), ['b', 2, 'delete']);
    assert.equal(map.get('zzz'), undefined);
    assert.equal(map.size, 1);
  });

  it('an entry added to an empty map and deleted again, many times over, leaves it empty and working', () => {
    const { map, removed } = tracked(20_000);
    for (let i = 0; i < 50_000; i++) {
      map.set(`k${i}`, i);
      map.delete(`k${i}`);
    }
    assert.equal(map.size, 0);
    assert.equal(removed.length, 50_000);
    map.set('x', 1);
    assert.deepEqual([...map.values()], [1]);
  });
});
