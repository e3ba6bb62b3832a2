/**
 * A lock shared by every test process on this machine, for the few tests that must bind fixed
 * ports (the `npm start` quick start is 127.0.0.1:8443 with demo ports 18443-18023, exactly as
 * the README says). Two test runs at once (a developer's `npm test` beside CI, or the load runs
 * of the flake check) would otherwise fail one of them with EADDRINUSE: with the lock the second
 * waits for the first. The lock file holds the owner's pid; a lock whose owner is gone (killed
 * mid-test) is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function ownerAlive(path: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8').trim());
  } catch {
    return true; // being written or just removed: look again
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` while holding the machine-wide lock `name`; waits up to `waitMs` for it. */
export async function withMachineLock<T>(name: string, fn: () => Promise<T>, waitMs = 240_000): Promise<T> {
  const path = join(tmpdir(), `portplex-test-${name}.lock`);
  const giveUp = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!ownerAlive(path)) {
        try {
          unlinkSync(path);
        } catch {
          /* another waiter took it over first */
        }
        continue;
      }
      if (Date.now() > giveUp) throw new Error(`waited ${waitMs} ms for ${path}: another test run holds it (pid ${readFileSync(path, 'utf8').trim()})`);
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
  }
}
