/** "One worker per core" honours a container's CPU quota, which os.availableParallelism() does not. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { cgroupCpuQuota, defaultWorkerCount } from '../../src/supervisor/worker-count.js';

const files = (m: Record<string, string>) => (p: string): string | undefined => m[p];

it('cgroup v2 cpu.max: a quota in CPUs, "max" is unlimited', () => {
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' })), 1.5);
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), undefined);
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu.max': 'garbage' })), undefined);
});

it('cgroup v1 cfs quota: -1 is unlimited', () => {
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), 2);
  assert.equal(cgroupCpuQuota(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), undefined);
  assert.equal(cgroupCpuQuota(files({})), undefined);
});

it('the default is the cores, capped by the quota rounded up, and at least one', () => {
  const cores = availableParallelism();
  assert.equal(defaultWorkerCount(files({})), cores);
  assert.equal(defaultWorkerCount(files({ '/sys/fs/cgroup/cpu.max': '50000 100000' })), 1);
  assert.equal(defaultWorkerCount(files({ '/sys/fs/cgroup/cpu.max': `${(cores + 8) * 100000} 100000` })), cores);
  if (cores >= 2) assert.equal(defaultWorkerCount(files({ '/sys/fs/cgroup/cpu.max': '110000 100000' })), 2);
});
