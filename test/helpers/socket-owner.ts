/**
 * Which process owns a TCP socket, from /proc (Linux): the inode of the connection with this local
 * port in /proc/net/tcp{,6}, then the process whose fd table links to "socket:[inode]". Tests use
 * it to tell which worker process carries a given connection.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export function socketInodes(localPort: number): Set<string> {
  const out = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      if (local === undefined || f[9] === undefined) continue;
      if (parseInt(local.split(':')[1] ?? '', 16) === localPort) out.add(f[9]);
    }
  }
  return out;
}

/** The pid among `pids` that holds a socket whose local port is `localPort`. */
export function ownerOf(localPort: number, pids: readonly number[]): number | undefined {
  const inodes = socketInodes(localPort);
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
