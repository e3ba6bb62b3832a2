/**
 * The listening sockets of one transport across reloads. TCP and UDP differ in what a socket
 * carries (connections, flows), not in how a rule change treats it: bind the added ones all or
 * none, keep the ones whose address is unchanged (with their new settings), and retire the ones
 * that left — no new clients, and the socket is closed once what it still carries has ended.
 */
import type { ListenerConfig } from '../config/types.js';
import { listenerKey } from '../config/listener-key.js';

/** One bound listening socket, whatever its transport. */
export interface Listening {
  /** The listener's settings; a reload may change them (PROXY trust, caps) without re-binding. */
  readonly config: ListenerConfig;
  /** New settings for the same address, used from the next client on. */
  reconfigure(config: ListenerConfig): void;
  /** Clients (TCP connections, UDP flows) it still carries. */
  open(): number;
  /** No new clients from now on; the ones it carries go on. Idempotent. */
  stopAccepting(): void;
  /** Resolves once it carries no client (after stopAccepting, none arrive). */
  idle(): Promise<void>;
  /** Releases the socket. Idempotent. */
  close(): Promise<void>;
  /**
   * Starts taking clients, once the listener is in force. A socket that takes them from its bind
   * on (node:net, dgram) has none; the native one waits for it, so that nothing is accepted
   * before privileges are dropped or while a reload could still be abandoned.
   */
  startAccepting?(): void;
}

/** A bound TCP listener, whichever data plane owns its socket. */
export interface TcpListening extends Listening {
  /** Where it listens (port 0 in the rules: the port the kernel chose). */
  readonly address: { readonly address: string; readonly family: string; readonly port: number };
  /** Ends every connection it still carries now (a drain's grace is over). */
  cut(): void;
}

export type BindOne<T> = (config: ListenerConfig) => Promise<T>;

export interface ListenerChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly kept: readonly string[];
}

/** A reload's new listeners, bound and not yet in force: commit() puts them in, abort() closes them (once one has run, the other does nothing). */
export interface StagedListeners<T> {
  readonly added: readonly T[];
  commit(): ListenerChange;
  abort(): Promise<void>;
}

/** Binds every listener or none: on the first failure the ones already bound are closed again. */
export async function bindAll<T extends Listening>(configs: readonly ListenerConfig[], bind: BindOne<T>): Promise<T[]> {
  const bound: T[] = [];
  try {
    for (const cfg of configs) bound.push(await bind(cfg));
  } catch (e) {
    await Promise.all(bound.map((b) => b.close()));
    throw e;
  }
  return bound;
}

const names = (ls: readonly Listening[]): string[] => ls.map((l) => l.config.name);

export class ListenerSet<T extends Listening> {
  private current: T[] = [];
  /** Listeners a reload removed that still carry clients (drain and the counts must see them). */
  private readonly retired = new Set<T>();

  /** The listeners now accepting, in rule-file order. */
  get active(): readonly T[] {
    return this.current;
  }

  /** The accepting listeners and the retired ones still carrying clients. */
  every(): T[] {
    return [...this.current, ...this.retired];
  }

  /**
   * Binds the listeners of `next` that are not bound yet (all or none; a failure throws and
   * leaves this set as it was). Nothing else changes until commit().
   */
  async stage(next: readonly ListenerConfig[], bind: BindOne<T>): Promise<StagedListeners<T>> {
    const byKey = new Map(this.current.map((l) => [listenerKey(l.config), l]));
    const added = await bindAll(
      next.filter((c) => !byKey.has(listenerKey(c))),
      bind,
    );
    let change: ListenerChange | undefined;
    let aborted = false;
    return {
      added,
      // Applied once: a second commit returns the first one's change and changes nothing.
      commit: () => (change ??= this.apply(next, byKey, added)),
      abort: async () => {
        if (change !== undefined || aborted) return;
        aborted = true;
        await Promise.all(added.map((l) => l.close()));
      },
    };
  }

  /** Stops every accepting listener (they stay in the set for drain and the counts). */
  stopAccepting(): void {
    for (const l of this.current) l.stopAccepting();
  }

  private apply(next: readonly ListenerConfig[], byKey: ReadonlyMap<string, T>, added: readonly T[]): ListenerChange {
    const wanted = new Set(next.map(listenerKey));
    const kept: T[] = [];
    for (const c of next) {
      const l = byKey.get(listenerKey(c));
      if (l !== undefined) {
        l.reconfigure(c);
        kept.push(l);
      }
    }
    const removed = this.current.filter((l) => !wanted.has(listenerKey(l.config)));
    for (const l of removed) this.retire(l);
    const order = new Map(next.map((c, i) => [listenerKey(c), i]));
    const at = (l: T): number => order.get(listenerKey(l.config)) ?? 0;
    this.current = [...kept, ...added].sort((a, b) => at(a) - at(b));
    for (const l of added) l.startAccepting?.();
    return { added: names(added), removed: names(removed), kept: names(kept) };
  }

  /** Stop accepting; the clients it carries go on until they end by themselves, then it closes. */
  private retire(l: T): void {
    l.stopAccepting();
    if (l.open() === 0) {
      void l.close();
      return;
    }
    this.retired.add(l);
    void l.idle().then(() => {
      this.retired.delete(l);
      void l.close();
    });
  }
}
