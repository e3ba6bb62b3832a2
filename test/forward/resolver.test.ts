/** TargetResolver: address literals pass through, names resolve once and are then served from the cache, failures are cached too. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TargetResolver } from '../../src/forward/resolver.js';

describe('TargetResolver', () => {
  it('passes IP literals through without a lookup or a cache entry', async () => {
    const r = new TargetResolver();
    assert.deepEqual(await r.resolve('127.0.0.1'), { ok: true, addresses: ['127.0.0.1'] });
    assert.deepEqual(await r.resolve('2001:db8::1'), { ok: true, addresses: ['2001:db8::1'] });
    assert.deepEqual(await r.resolve('127.0.0.1'), { ok: true, addresses: ['127.0.0.1'] });
    assert.equal(r.hits, 0);
  });

  it('never looks up a name that ends in a number: getaddrinfo would turn "127.1" or "2130706433" into 127.0.0.1', async () => {
    const r = new TargetResolver();
    for (const host of ['127.1', '2130706433', '0177.0.0.1', '0x7f.1', '0x7f000001', '127.0.0.01', '10.1.', 'a.1', 'example.0x10']) {
      const got = await r.resolve(host);
      assert.equal(got.ok, false, `${host} resolved to ${JSON.stringify(got)}`);
      if (!got.ok) assert.match(got.error, /ends in a number/, host);
    }
  });

  it('resolves localhost to a loopback address, and the second call is a cache hit with the same answer', { timeout: 10_000 }, async () => {
    const r = new TargetResolver();
    const first = await r.resolve('localhost');
    assert.equal(first.ok, true, JSON.stringify(first));
    if (!first.ok) return;
    assert.ok(first.addresses.length > 0);
    for (const a of first.addresses) assert.ok(a === '::1' || a.startsWith('127.'), `localhost resolved to ${a}`);
    assert.equal(r.hits, 0);
    const second = await r.resolve('localhost');
    assert.equal(r.hits, 1);
    assert.equal(second, first);
  });

  it('shares one lookup between concurrent callers', { timeout: 10_000 }, async () => {
    const r = new TargetResolver();
    const [a, b] = await Promise.all([r.resolve('localhost'), r.resolve('localhost')]);
    assert.equal(a, b);
    assert.equal(r.hits, 0);
  });

  it('reports an unknown name as a failure, and caches the failure', { timeout: 10_000 }, async () => {
    const r = new TargetResolver();
    // .invalid never resolves (RFC 6761 §6.4).
    const first = await r.resolve('no-such-host.portplex.invalid');
    assert.equal(first.ok, false);
    if (first.ok) return;
    assert.match(first.error, /^E[A-Z_]+$/, 'the error is the resolver code, e.g. ENOTFOUND');
    assert.equal(r.hits, 0);
    const second = await r.resolve('no-such-host.portplex.invalid');
    assert.equal(r.hits, 1);
    assert.deepEqual(second, first);
  });

  it('keeps one cache per resolver', { timeout: 10_000 }, async () => {
    const a = new TargetResolver();
    const b = new TargetResolver();
    await a.resolve('localhost');
    await b.resolve('localhost');
    assert.equal(a.hits + b.hits, 0);
  });
});
