/**
 * Reading /proc: resident memory and CPU time of a process and its descendants, and the whole
 * machine's CPU time. The bench uses it for RSS per held connection and to show, for every rate
 * measurement, how busy the proxy, the load generator, the backend and everything else were.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second of the times in /proc/<pid>/stat (USER_HZ; 100 on every usual Linux). */
export const CLK_TCK = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

interface StatLine {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime, in ticks. */
  readonly ticks: number;
}

/** /proc/<pid>/stat, or undefined when the process is gone. The command name may hold spaces and ')'. */
function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state(0) ppid(1) ... utime(11) stime(12)
  return { pid, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** `root` and every process below it (node:cluster workers, nginx workers), by parent links. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st === undefined) continue;
    const list = children.get(st.ppid);
    if (list) list.push(st.pid);
    else children.set(st.ppid, [st.pid]);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Resident set size in bytes (VmRSS) of one process; 0 if it is gone. */
function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** RSS of `root` and all its descendants together, in bytes. */
export function treeRss(root: number): number {
  return processTree(root).reduce((a, p) => a + rssOf(p), 0);
}

/** CPU seconds (user + system) used so far by `root` and its live descendants. */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const p of processTree(root)) ticks += readStat(p)?.ticks ?? 0;
  return ticks / CLK_TCK;
}

/** Busy CPU seconds of the whole machine so far (all cores: everything but idle and iowait). */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  // Steal (index 7) is time the hypervisor gave to someone else: not busy here.
  const busy = v[0]! + v[1]! + v[2]! + v[5]! + v[6]!;
  return busy / CLK_TCK;
}

/** The RLIMIT_NOFILE hard limit this process runs under (children can raise their soft limit to it). */
export function hardNofile(): number {
  try {
    const m = /^Max open files\s+\d+\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  } catch {
    /* not Linux */
  }
  return 1024;
}
