/**
 * Every process and temp dir the bench creates goes through one Supervisor, so that all of them
 * are gone when the bench ends — normally, on an error, on Ctrl-C / SIGTERM, or at its hard time
 * limit.
 *
 * Each child is started in its own process group (`detached`), and stopping it signals the whole
 * group: portplex's node:cluster workers and nginx's worker process go with their parent even if
 * the parent is SIGKILLed first, which signalling the parent alone would not guarantee.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function describeExit(e: Exit): string {
  return e.signal !== null ? `signal ${e.signal}` : `exit code ${e.code}`;
}

const OUTPUT_TAIL = 64 * 1024;

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Start through `sh -c 'ulimit ...; exec'` with RLIMIT_NOFILE raised to this (or, if the hard
   * limit is lower and cannot be raised, to the hard limit): thousands of held connections need
   * descriptors. `exec` keeps the pid, so the process group and /proc accounting stay exact.
   */
  readonly nofile?: number;
  /** Killed (SIGKILL) after this long whatever happens. */
  readonly lifetimeMs: number;
  /** A pipe on stdin (the hold client waits for a line there); default /dev/null. */
  readonly stdinPipe?: boolean;
}

export class Proc {
  private tail = '';
  private status: Exit | undefined;
  private readonly lineWatchers = new Set<(line: string) => void>();
  private partial = '';
  readonly exited: Promise<Exit>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    lifetimeMs: number,
  ) {
    const keep = (s: string): void => {
      this.tail = (this.tail + s).slice(-OUTPUT_TAIL);
    };
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      keep(s);
      const lines = (this.partial + s).split('\n');
      this.partial = lines.pop()!;
      for (const l of lines) for (const w of [...this.lineWatchers]) w(l);
    });
    child.stderr!.setEncoding('utf8').on('data', keep);
    const lifetime = setTimeout(() => {
      keep(`\n[${name} killed: lifetime of ${lifetimeMs} ms exceeded]\n`);
      this.signalGroup('SIGKILL');
    }, lifetimeMs);
    lifetime.unref();
    this.exited = new Promise<Exit>((resolve) => {
      const done = (e: Exit): void => {
        if (this.status !== undefined) return;
        this.status = e;
        clearTimeout(lifetime);
        resolve(e);
      };
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', (e) => {
        keep(`\n[spawn error: ${e.message}]\n`);
        done({ code: null, signal: null });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Exit status once exited. */
  exit(): Exit | undefined {
    return this.status;
  }

  /** The last 64 KiB of stdout and stderr, for error messages. */
  output(): string {
    return this.tail;
  }

  /** Calls `fn` with every complete stdout line from now on; returns the unsubscribe function. */
  onLine(fn: (line: string) => void): () => void {
    this.lineWatchers.add(fn);
    return () => this.lineWatchers.delete(fn);
  }

  /** The first stdout line from now on that satisfies `test`; rejects when the process exits first or after `timeoutMs`. */
  waitLine(test: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${this.name} to ${what}. Output:\n${this.tail}`)), timeoutMs);
      const off = this.onLine((l) => {
        if (test(l)) finish(undefined, l);
      });
      const finish = (e?: Error, line?: string): void => {
        clearTimeout(timer);
        off();
        if (e) reject(e);
        else resolve(line!);
      };
      void this.exited.then((x) => finish(new Error(`${this.name} exited (${describeExit(x)}) before it could ${what}. Output:\n${this.tail}`)));
    });
  }

  /** Signals the process group; falls back to the process alone. Never throws. */
  signalGroup(sig: NodeJS.Signals): void {
    if (this.status !== undefined || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, sig);
    } catch {
      try {
        this.child.kill(sig);
      } catch {
        /* already gone */
      }
    }
  }
}

export class Supervisor {
  private readonly procs = new Set<Proc>();
  private readonly dirs = new Set<string>();

  start(name: string, cmd: string, args: readonly string[], opts: StartOptions): Proc {
    const [file, argv] =
      opts.nofile === undefined
        ? [cmd, [...args]]
        : ['/bin/sh', ['-c', `ulimit -n ${opts.nofile} 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"; exec "$@"`, name, cmd, ...args]];
    const child = spawn(file, argv, {
      env: opts.env ?? process.env,
      stdio: [opts.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (opts.stdinPipe) child.stdin!.on('error', () => undefined);
    const proc = new Proc(name, child, opts.lifetimeMs);
    this.procs.add(proc);
    void proc.exited.then(() => {
      // The leader is gone; anything left in its group (a worker it could not reap) goes too.
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* the group is empty */
      }
      this.procs.delete(proc);
    });
    return proc;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has exited. */
  async stop(proc: Proc, graceMs = 3000): Promise<Exit> {
    const done = proc.exit();
    if (done !== undefined) return done;
    proc.signalGroup('SIGTERM');
    const timer = setTimeout(() => proc.signalGroup('SIGKILL'), graceMs);
    try {
      return await proc.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A fresh directory (under `parent`, default the system temp dir), removed by stopAll/killAllSync. */
  tempDir(prefix: string, parent = tmpdir()): string {
    const dir = mkdtempSync(join(parent, prefix));
    this.dirs.add(dir);
    return dir;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.procs].map((p) => this.stop(p)));
    this.removeDirs();
  }

  /** For signal and exit handlers, where nothing asynchronous can run: SIGKILL every group, remove the dirs. */
  killAllSync(): void {
    for (const p of this.procs) p.signalGroup('SIGKILL');
    this.removeDirs();
  }

  private removeDirs(): void {
    for (const d of this.dirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        /* best effort: the next run uses a new name anyway */
      }
      this.dirs.delete(d);
    }
  }
}
