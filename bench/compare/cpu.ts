/**
 * CPU accounting over a measurement window: how many cores the proxy, the load generator, the
 * backend and everything else on the machine kept busy on average. This is the evidence that the
 * generator was not the bottleneck (it stayed well under one core), that the proxy was (it used
 * all the CPU it could get), and how much other work was running on the machine meanwhile.
 */
import { performance } from 'node:perf_hooks';
import { machineBusySeconds, treeCpuSeconds } from './procfs.js';

export interface CpuUse {
  /** Average cores busy during the window; `proxy` is null for direct runs. */
  readonly proxy: number | null;
  readonly generator: number;
  readonly backend: number;
  /** Everything else: the rest of the machine (other users' work) and the bench's own process. */
  readonly other: number;
  readonly windowSeconds: number;
}

export interface Watched {
  readonly proxy?: number;
  readonly generator: number;
  readonly backend: number;
}

export class CpuWindow {
  private t0 = 0;
  private base = { proxy: 0, generator: 0, backend: 0, machine: 0 };

  constructor(private readonly pids: Watched) {}

  open(): void {
    this.t0 = performance.now();
    this.base = this.read();
  }

  close(): CpuUse {
    const now = this.read();
    const dt = (performance.now() - this.t0) / 1000;
    const per = (a: number, b: number): number => Math.max(0, a - b) / dt;
    const proxy = per(now.proxy, this.base.proxy);
    const generator = per(now.generator, this.base.generator);
    const backend = per(now.backend, this.base.backend);
    const machine = per(now.machine, this.base.machine);
    return {
      proxy: this.pids.proxy === undefined ? null : proxy,
      generator,
      backend,
      other: Math.max(0, machine - proxy - generator - backend),
      windowSeconds: dt,
    };
  }

  private read(): { proxy: number; generator: number; backend: number; machine: number } {
    return {
      proxy: this.pids.proxy === undefined ? 0 : treeCpuSeconds(this.pids.proxy),
      generator: treeCpuSeconds(this.pids.generator),
      backend: treeCpuSeconds(this.pids.backend),
      machine: machineBusySeconds(),
    };
  }
}
