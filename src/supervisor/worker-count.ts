/**
 * How many workers "one per core" means here. os.availableParallelism() honours the CPU affinity
 * mask but not a container's CPU quota (cgroup v2 cpu.max, v1 cfs_quota_us): a pod limited to
 * 2 CPUs on a 64-core node would start 64 workers. The quota, rounded up, caps the count.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

export function defaultWorkerCount(read: (path: string) => string | undefined = readText): number {
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  const quota = cgroupCpuQuota(read);
  return Math.max(1, quota === undefined ? cores : Math.min(cores, Math.ceil(quota)));
}

/** CPUs the cgroup may use, or undefined when unlimited or unknown. */
export function cgroupCpuQuota(read: (path: string) => string | undefined): number | undefined {
  // cgroup v2: "max 100000" or "200000 100000" (quota period).
  const v2 = read('/sys/fs/cgroup/cpu.max')?.trim().split(/\s+/);
  if (v2 !== undefined && v2.length === 2) {
    const [q, p] = v2 as [string, string];
    if (q === 'max') return undefined;
    const quota = Number(q);
    const period = Number(p);
    return quota > 0 && period > 0 ? quota / period : undefined;
  }
  // cgroup v1: quota -1 means unlimited.
  const q1 = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')?.trim());
  const p1 = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us')?.trim());
  return q1 > 0 && p1 > 0 ? q1 / p1 : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
