/**
 * The TCP and the UDP listeners of one process as one unit for a reload: both transports' added
 * listeners are bound (all or none, across the two) before either set changes.
 */
import type { ListenerConfig, RulesConfig } from './config/types.js';
import { bindListener } from './listener/listeners.js';
import { bindNativeListener } from './native/listener.js';
import type { NativePlane } from './native/plane.js';
import type { FlowTable } from './udp/flow-table.js';
import type { UdpFlow } from './udp/flow.js';
import { bindUdpListener, type BoundUdpListener } from './udp/udp-listener.js';
import { ListenerSet, type StagedListeners, type TcpListening } from './engine/listener-set.js';
import type { Runtime } from './engine/runtime.js';

export class TransportListeners {
  readonly tcp = new ListenerSet<TcpListening>();
  readonly udp = new ListenerSet<BoundUdpListener>();

  /**
   * `serveUdp` false: this process serves no UDP listener (with several workers only one does).
   * `plane`: the native data plane owns the TCP listeners; without one, node:net does.
   */
  constructor(
    private readonly flows: FlowTable<UdpFlow>,
    private readonly serveUdp: boolean,
    private readonly plane: NativePlane | undefined,
  ) {}

  /** Binds what `next` adds on both transports, all or none; `runtime` serves what they accept. */
  async stage(next: RulesConfig, runtime: () => Runtime): Promise<StagedListeners<TcpListening | BoundUdpListener>> {
    const plane = this.plane;
    const bindTcp = plane === undefined ? (c: ListenerConfig) => bindListener(c, runtime) : (c: ListenerConfig) => bindNativeListener(c, runtime, plane);
    const t = await this.tcp.stage(next.listeners.filter((l) => l.transport === 'tcp'), bindTcp);
    let u: StagedListeners<BoundUdpListener>;
    try {
      u = await this.udp.stage(this.serveUdp ? next.listeners.filter((l) => l.transport === 'udp') : [], (c) => bindUdpListener(c, runtime, this.flows));
    } catch (e) {
      await t.abort();
      throw e;
    }
    return {
      added: [...t.added, ...u.added],
      commit: () => {
        const ut = u.commit();
        const tt = t.commit();
        return { added: [...tt.added, ...ut.added], removed: [...tt.removed, ...ut.removed], kept: [...tt.kept, ...ut.kept] };
      },
      abort: async () => {
        await Promise.all([t.abort(), u.abort()]);
      },
    };
  }

  stopAccepting(): void {
    this.tcp.stopAccepting();
    this.udp.stopAccepting();
  }

  /** Open TCP connections and UDP flows per listener name, including listeners a reload removed. */
  openByListener(): Map<string, number> {
    const out = new Map<string, number>();
    for (const l of [...this.tcp.every(), ...this.udp.every()]) out.set(l.config.name, (out.get(l.config.name) ?? 0) + l.open());
    return out;
  }

  /** Open TCP connections (what a drain waits for: a UDP flow has no end to wait for). */
  openConnections(): number {
    return this.tcp.every().reduce((n, l) => n + l.open(), 0);
  }

  /** Ends the connections still open (the drain's grace is over). */
  cutConnections(): void {
    for (const l of this.tcp.every()) l.cut();
  }
}
