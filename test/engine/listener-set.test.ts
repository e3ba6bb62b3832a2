/** ListenerSet over a fake binder: all-or-none binding, the reload diff and retiring, with no sockets. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ListenerConfig } from '../../src/config/types.js';
import { bindAll, ListenerSet, type Listening } from '../../src/engine/listener-set.js';

/** A listener whose open clients the test sets, and whose idle() the test resolves. */
class FakeListening implements Listening {
  clients = 0;
  accepting = true;
  closed = 0;
  private waiters: (() => void)[] = [];
  constructor(public config: ListenerConfig) {}
  reconfigure(config: ListenerConfig): void {
    this.config = config;
  }
  open(): number {
    return this.clients;
  }
  stopAccepting(): void {
    this.accepting = false;
  }
  idle(): Promise<void> {
    return this.clients === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
  close(): Promise<void> {
    this.closed++;
    return Promise.resolve();
  }
  /** The last client ends. */
  drained(): void {
    this.clients = 0;
    for (const w of this.waiters.splice(0)) w();
  }
}

const cfg = (name: string, port: number, extra: Partial<ListenerConfig> = {}): ListenerConfig =>
  ({ name, host: '127.0.0.1', port, transport: 'tcp', ...extra }) as ListenerConfig;

/** A binder that records what it bound and fails on the ports it is told to. */
function fakeBinder(failOn: ReadonlySet<number> = new Set()) {
  const bound: FakeListening[] = [];
  const bind = async (c: ListenerConfig): Promise<FakeListening> => {
    if (failOn.has(c.port)) throw new Error(`cannot listen on ${c.name}: EADDRINUSE`);
    const l = new FakeListening(c);
    bound.push(l);
    return l;
  };
  return { bound, bind };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('bindAll', () => {
  it('binds every listener in order', async () => {
    const b = fakeBinder();
    const ls = await bindAll([cfg('a', 1), cfg('b', 2)], b.bind);
    assert.deepEqual(ls.map((l) => l.config.name), ['a', 'b']);
  });

  it('closes the ones already bound when one fails, and throws its error', async () => {
    const b = fakeBinder(new Set([3]));
    await assert.rejects(bindAll([cfg('a', 1), cfg('b', 2), cfg('c', 3), cfg('d', 4)], b.bind), /cannot listen on c: EADDRINUSE/);
    assert.deepEqual(b.bound.map((l) => [l.config.name, l.closed]), [['a', 1], ['b', 1]]);
  });
});

describe('ListenerSet', () => {
  it('stages nothing until commit, and a commit puts the listeners in rule order', async () => {
    const set = new ListenerSet<FakeListening>();
    const b = fakeBinder();
    const staged = await set.stage([cfg('a', 1), cfg('b', 2)], b.bind);
    assert.equal(set.active.length, 0);
    assert.deepEqual(staged.commit(), { added: ['a', 'b'], removed: [], kept: [] });
    assert.deepEqual(set.active.map((l) => l.config.name), ['a', 'b']);
  });

  it('keeps the listeners of unchanged addresses with their new settings, binds only the added', async () => {
    const set = new ListenerSet<FakeListening>();
    const b = fakeBinder();
    (await set.stage([cfg('a', 1), cfg('b', 2)], b.bind)).commit();
    const [a, bl] = set.active;
    const change = (await set.stage([cfg('c', 3), cfg('b2', 2), cfg('a', 1, { host: '127.0.0.1' })], b.bind)).commit();
    assert.deepEqual(change, { added: ['c'], removed: [], kept: ['b2', 'a'] });
    assert.equal(b.bound.length, 3, 'only c was bound');
    assert.deepEqual(set.active.map((l) => l.config.name), ['c', 'b2', 'a'], 'rule-file order');
    assert.equal(set.active[1], bl, 'b kept, not re-bound');
    assert.equal(set.active[2], a);
    assert.equal(bl!.config.name, 'b2', 'reconfigured');
  });

  it('tells TCP and UDP on the same port apart, and port-0 listeners by name', async () => {
    const set = new ListenerSet<FakeListening>();
    const b = fakeBinder();
    (await set.stage([cfg('x', 0), cfg('t', 5)], b.bind)).commit();
    const change = (await set.stage([cfg('y', 0), cfg('t', 5, { transport: 'udp' })], b.bind)).commit();
    assert.deepEqual(change, { added: ['y', 't'], removed: ['x', 't'], kept: [] });
  });

  it('a failed stage leaves the set as it was and closes what it bound', async () => {
    const set = new ListenerSet<FakeListening>();
    const b = fakeBinder(new Set([9]));
    (await set.stage([cfg('a', 1)], b.bind)).commit();
    const before = set.active;
    await assert.rejects(set.stage([cfg('a2', 1), cfg('n', 4), cfg('bad', 9)], b.bind), /cannot listen on bad/);
    assert.equal(set.active, before);
    assert.equal(set.active[0]!.config.name, 'a', 'not reconfigured');
    assert.equal(set.active[0]!.accepting, true);
    assert.equal(b.bound.find((l) => l.config.name === 'n')!.closed, 1);
  });

  it('abort closes the staged listeners and changes nothing', async () => {
    const set = new ListenerSet<FakeListening>();
    const b = fakeBinder();
    (await set.stage([cfg('a', 1)], b.bind)).commit();
    const staged = await set.stage([cfg('n', 2)], b.bind);
    await staged.abort();
    assert.equal(staged.added[0]!.closed, 1);
    assert.deepEqual(set.active.map((l) => l.config.name), ['a']);
    assert.equal(set.active[0]!.accepting, true);
  });

  it('retires a removed listener with no clients at once: stopped and closed', async () => {
    const set = new ListenerSet<FakeListening>();
    const b = fakeBinder();
    (await set.stage([cfg('a', 1), cfg('b', 2)], b.bind)).commit();
    const [a] = set.active;
    assert.deepEqual((await set.stage([cfg('b', 2)], b.bind)).commit(), { added: [], removed: ['a'], kept: ['b'] });
    assert.equal(a!.accepting, false);
    assert.equal(a!.closed, 1);
    assert.deepEqual(set.every().map((l) => l.config.name), ['b']);
  });

  it('keeps a removed listener with clients in every() until they end, then closes it', async () => {
    const set = new ListenerSet<FakeListening>();
    const b = fakeBinder();
    (await set.stage([cfg('a', 1), cfg('b', 2)], b.bind)).commit();
    const [a] = set.active;
    a!.clients = 2;
    (await set.stage([cfg('b', 2)], b.bind)).commit();
    assert.equal(a!.accepting, false, 'no new clients');
    assert.equal(a!.closed, 0, 'its clients go on');
    assert.deepEqual(set.active.map((l) => l.config.name), ['b']);
    assert.deepEqual(set.every().map((l) => l.config.name), ['b', 'a']);
    a!.drained();
    await settle();
    assert.equal(a!.closed, 1);
    assert.deepEqual(set.every().map((l) => l.config.name), ['b']);
  });

  it('stopAccepting stops every active listener and keeps them in the set', async () => {
    const set = new ListenerSet<FakeListening>();
    const b = fakeBinder();
    (await set.stage([cfg('a', 1), cfg('b', 2)], b.bind)).commit();
    set.stopAccepting();
    assert.deepEqual(set.active.map((l) => l.accepting), [false, false]);
    assert.equal(set.active.length, 2);
  });

  it('a staged change applies once: a second commit changes nothing, an abort after it closes nothing', async () => {
    const set = new ListenerSet<FakeListening>();
    const b = fakeBinder();
    (await set.stage([cfg('a', 1), cfg('b', 2)], b.bind)).commit();
    const [a] = set.active;
    a!.clients = 1;
    const staged = await set.stage([cfg('b', 2)], b.bind);
    const first = staged.commit();
    a!.drained();
    await settle();
    assert.equal(staged.commit(), first);
    await staged.abort();
    assert.equal(a!.closed, 1);
    assert.deepEqual(set.every().map((l) => l.config.name), ['b']);
  });
});
