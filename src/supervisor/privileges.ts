/**
 * Running as root only to bind: once the listeners are bound, switch to the configured user and
 * group (like nginx's `user` directive). Started as root without one, portplex refuses to run
 * unless --allow-root says it is meant. Started as another user, `user` is ignored with a notice.
 */
import { readFileSync } from 'node:fs';

export type PrivilegePlan = { kind: 'none' } | { kind: 'refuse'; message: string } | { kind: 'ignore'; message: string } | { kind: 'drop'; user: string; group: string | number };

export const ROOT_WITHOUT_USER = 'portplex is running as root with no `user:` in the rules: set `user:` (and `group:`) so it drops privileges after binding, or pass --allow-root if this is intended';

/** `groupOf` finds a user's primary group when `group:` is not set (the passwd file; a parameter for tests and `check`). */
export function planPrivileges(
  user: string | undefined,
  group: string | undefined,
  opts: { allowRoot: boolean; uid: number | undefined },
  groupOf: (user: string) => number | undefined = primaryGroupOf,
): PrivilegePlan {
  const isRoot = opts.uid === 0;
  if (!isRoot) return user === undefined ? { kind: 'none' } : { kind: 'ignore', message: `"user: ${user}" ignored: portplex is not running as root` };
  if (user === undefined) {
    return opts.allowRoot
      ? { kind: 'none' }
      : { kind: 'refuse', message: ROOT_WITHOUT_USER };
  }
  const gid = group ?? groupOf(user);
  if (gid === undefined) return { kind: 'refuse', message: `user "${user}" is not in /etc/passwd: set an existing user, or \`group:\` explicitly` };
  return { kind: 'drop', user, group: gid };
}

/** The user's primary group id from /etc/passwd (name:pw:uid:gid:...), or undefined. */
export function primaryGroupOf(user: string, passwd = '/etc/passwd'): number | undefined {
  let text: string;
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f[3] !== undefined && /^\d+$/.test(f[3])) return Number(f[3]);
  }
  return undefined;
}

/** What keeps capabilities across setuid (the native addon: prctl and capset). */
export interface CapabilityKeeper {
  keepCapabilities(on: boolean): void;
  setCapabilities(mask: number): void;
}

/**
 * Switches user and group (supplementary groups first, then gid, then uid). Throws with the
 * system's reason. `keep`: these capabilities stay permitted and effective after the switch, and
 * only these (HAProxy's `setcap`): CAP_NET_BIND_SERVICE so a reload can bind a port below 1024 in
 * a native worker, CAP_NET_ADMIN for transparent mode.
 */
export function dropPrivileges(plan: Extract<PrivilegePlan, { kind: 'drop' }>, keep?: { readonly via: CapabilityKeeper; readonly capabilities: readonly number[] }): void {
  if (keep !== undefined) keep.via.keepCapabilities(true);
  try {
    // initgroups is POSIX-only and missing from some type definitions.
    (process as NodeJS.Process & { initgroups?: (user: string, extraGroup: string | number) => void }).initgroups?.(plan.user, plan.group);
    process.setgid?.(plan.group);
    process.setuid?.(plan.user);
    if (keep !== undefined) keep.via.setCapabilities(keep.capabilities.reduce((m, c) => m | (1 << c), 0) >>> 0);
  } finally {
    if (keep !== undefined) keep.via.keepCapabilities(false);
  }
}
