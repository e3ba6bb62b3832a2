/**
 * A backend's servers: primaries in round-robin order, then backups, each tried once per
 * connection until one accepts. Balancing and health checks grow here (issue 4).
 */
import type { Socket } from 'node:net';
import type { BackendConfig, ServerConfig } from '../config/types.js';
import { dial } from './dial.js';

export interface ConnectOutcome {
  readonly socket: Socket | undefined;
  readonly server: ServerConfig | undefined;
  /** "addr: reason" for every server that failed, in the order tried. */
  readonly failures: readonly string[];
}

export class BackendPool {
  private next = 0;
  private readonly primaries: readonly ServerConfig[];
  private readonly backups: readonly ServerConfig[];

  constructor(readonly config: BackendConfig) {
    this.primaries = config.servers.filter((s) => !s.backup);
    this.backups = config.servers.filter((s) => s.backup);
  }

  /** The order in which this connection will try servers. */
  private plan(): ServerConfig[] {
    const n = this.primaries.length;
    const start = n === 0 ? 0 : this.next++ % n;
    if (this.next > 1e9) this.next = 0;
    const order: ServerConfig[] = [];
    for (let i = 0; i < n; i++) order.push(this.primaries[(start + i) % n]!);
    return order.concat(this.backups);
  }

  /** Connects to the first server that accepts. Returns an abort function. */
  connect(done: (outcome: ConnectOutcome) => void): () => void {
    const order = this.plan();
    const failures: string[] = [];
    let abort: (() => void) | undefined;
    let aborted = false;
    const attempt = (i: number): void => {
      const server = order[i];
      if (server === undefined || aborted) {
        done({ socket: undefined, server: undefined, failures });
        return;
      }
      abort = dial(server, this.config.connectTimeoutMs, (r) => {
        if (r.ok) done({ socket: r.socket, server, failures });
        else {
          failures.push(`${server.address}: ${r.error}`);
          attempt(i + 1);
        }
      });
    };
    attempt(0);
    return () => {
      aborted = true;
      abort?.();
    };
  }
}
