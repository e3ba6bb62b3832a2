/**
 * Starting the processes under test: one nginx for both backends (for the whole run), and per
 * pairing a portplex and an HAProxy with the configurations of configs.ts. Everything listens on
 * 127.0.0.1 only, on ports the system chose a moment before.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/interop.js';
import { BULK_PATH, TLS_BODY, haproxyConfig, nginxConfig, portplexRules, type BackendPorts } from './configs.js';
import { describeExit, type Proc, type Supervisor } from './procs.js';
import { processTree } from './procfs.js';
import type { DataplaneAsk } from './options.js';
import { REPO_ROOT, waitUntilRouting } from './wire.js';

export type ProxyName = 'portplex' | 'haproxy' | 'haproxy-splice';
export const PROXY_NAMES: readonly ProxyName[] = ['portplex', 'haproxy', 'haproxy-splice'];

export interface Backends {
  readonly proc: Proc;
  readonly ports: BackendPorts;
  readonly bulkBytes: number;
}

export interface RunningProxy {
  readonly name: ProxyName;
  readonly proc: Proc;
  readonly port: number;
  /** What it was started as, for the report: `--workers 0`, `nbthread 2`... */
  readonly mode: string;
}

const asRoot = process.getuid?.() === 0;

/** How long a process may run at most: the bench's whole budget (it is stopped long before). */
export interface Budget {
  readonly lifetimeMs: number;
}

/** "… exited (code 1). Output: …" while `proc` is dead, else undefined: for polling loops. */
function deadMessage(proc: Proc): () => string | undefined {
  return () => {
    const e = proc.exit();
    return e === undefined ? undefined : `${proc.name} exited (${describeExit(e)}). Output:\n${proc.output()}`;
  };
}

/**
 * nginx with the bulk file on tmpfs (/dev/shm when there is one: the backend reads it from memory,
 * never from a disk that would be the bottleneck), started in the foreground.
 */
export async function startBackends(sup: Supervisor, o: { nginx: string; bulkBytes: number; heldConnections: number; budget: Budget }): Promise<Backends> {
  const dir = sup.tempDir('portplex-bench-nginx-');
  const dataDir = sup.tempDir('portplex-bench-data-', existsSync('/dev/shm') ? '/dev/shm' : undefined);
  writeFileSync(join(dataDir, BULK_PATH.slice(1)), randomBytes(o.bulkBytes));
  writeFileSync(join(dataDir, 'tls-ok.txt'), TLS_BODY);
  const ports: BackendPorts = { httpPp: await freePort(), httpDirect: await freePort(), tlsPp: await freePort(), tlsDirect: await freePort() };
  const conf = join(dir, 'nginx.conf');
  const workerConnections = o.heldConnections + 2048;
  writeFileSync(conf, nginxConfig({ dir, dataDir, ports, workerConnections, asRoot }));
  // -e: nginx opens its error log before reading the config; keep it out of /var/log.
  const proc = sup.start('nginx', o.nginx, ['-e', join(dir, 'error.log'), '-p', dir + '/', '-c', conf, '-g', 'daemon off;'], {
    nofile: workerConnections + 256,
    lifetimeMs: o.budget.lifetimeMs,
  });
  const errorLog = (): string => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await waitUntilRouting(ports.httpDirect, 10_000, deadMessage(proc), ['http']);
    await waitUntilRouting(ports.tlsDirect, 10_000, deadMessage(proc), ['tls']);
  } catch (e) {
    throw new Error(`nginx did not start: ${(e as Error).message}\nnginx error.log:\n${errorLog()}`);
  }
  return { proc, ports, bulkBytes: o.bulkBytes };
}

/**
 * portplex through its own CLI, as an operator runs it. `workers` 0: one process; N: a primary and
 * N workers. The mode says which data plane really ran: the addon mapped into the workers.
 */
export async function startPortplex(sup: Supervisor, o: { workers: number; dataplane: DataplaneAsk; ports: BackendPorts; heldConnections: number; budget: Budget }): Promise<RunningProxy> {
  const dir = sup.tempDir('portplex-bench-pp-');
  const port = await freePort();
  const rules = join(dir, 'rules.yaml');
  writeFileSync(rules, portplexRules({ port, ports: o.ports }));
  const args = [join(REPO_ROOT, 'dist/src/cli.js'), 'run', '--rules', rules, '--workers', String(o.workers), '--log-format', 'json', '--no-watch', '--drain-timeout', '1s', '--dataplane', o.dataplane];
  // As root portplex refuses to run without a user to switch to; the bench's processes all run as the invoking user.
  if (asRoot) args.push('--allow-root');
  const proc = sup.start(`portplex --workers ${o.workers}`, process.execPath, args, {
    nofile: 2 * o.heldConnections + 1024,
    lifetimeMs: o.budget.lifetimeMs,
  });
  await waitUntilRouting(port, 20_000, deadMessage(proc));
  return { name: 'portplex', proc, port, mode: `--workers ${o.workers}, ${mapsAddon(proc.pid) ? 'native' : 'js'} data plane` };
}

/** Whether a process of the tree has the native addon mapped (the native data plane runs there). */
function mapsAddon(root: number): boolean {
  return processTree(root).some((pid) => {
    try {
      return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('portplex.node');
    } catch {
      return false;
    }
  });
}

/** HAProxy in the foreground (-db), no master process. */
export async function startHaproxy(sup: Supervisor, o: { haproxy: string; nbthread: number; splice: boolean; ports: BackendPorts; heldConnections: number; budget: Budget }): Promise<RunningProxy> {
  const dir = sup.tempDir('portplex-bench-hap-');
  const port = await freePort();
  const maxconn = o.heldConnections + 1024;
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig({ port, ports: o.ports, nbthread: o.nbthread, maxconn, splice: o.splice }));
  const mode = `nbthread ${o.nbthread}${o.splice ? ', splice-auto' : ''}`;
  const proc = sup.start(`haproxy ${mode}`, o.haproxy, ['-f', cfg, '-db'], {
    // HAProxy sizes its descriptors itself and refuses to start below that: two per connection,
    // and with splice two per pipe (maxpipes defaults to maxconn/4).
    nofile: (o.splice ? 3 : 2) * maxconn + 1024,
    lifetimeMs: o.budget.lifetimeMs,
  });
  await waitUntilRouting(port, 10_000, deadMessage(proc));
  return { name: o.splice ? 'haproxy-splice' : 'haproxy', proc, port, mode };
}
