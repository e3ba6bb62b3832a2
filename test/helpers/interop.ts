/**
 * Helpers for interop tests against real third-party programs (nginx, HAProxy, OpenSSH, curl,
 * openssl): find a program or skip (fail under CI=true), spawn processes that are always killed,
 * wait for ports and output with a deadline, and temp dirs that are always removed.
 *
 * Every helper that starts something takes the test context (anything with `after(fn)`) and
 * registers its own cleanup there, so a failing assertion never leaves a daemon running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';

/** Anything that can run a cleanup after the test: a node:test TestContext. */
export interface Scope {
  after(fn: () => unknown): void;
}

/** Scope that can also be skipped: a node:test TestContext. */
export interface SkippableScope extends Scope {
  skip(message?: string): void;
}

/** The repository root (this file runs from dist/test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEMO_CERT = join(REPO_ROOT, 'rules/demo-cert/demo-cert.pem');
export const DEMO_KEY = join(REPO_ROOT, 'rules/demo-cert/demo-key.pem');

/** Which Debian package provides each program the interop tests use. */
export const DEBIAN_PACKAGES: Readonly<Record<string, string>> = {
  nginx: 'nginx',
  haproxy: 'haproxy',
  curl: 'curl',
  openssl: 'openssl',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  sshd: 'openssh-server',
  wrk: 'wrk', // npm run bench and its CI smoke test (test/bench/)
  chromium: 'chromium', // the status page test (test/admin/) and QUIC from a real browser (test/interop/chromium-quic)
  'systemd-analyze': 'systemd', // the unit check (test/deploy/)
  ip: 'iproute2', // network namespaces (test/interop/transparent-netns)
  nft: 'nftables', // transparent mode's routing (test/interop/transparent-netns)
};

/** sbin directories are often missing from a non-root PATH, but nginx, haproxy and sshd live there. */
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Programs to treat as absent, for checking the skip/fail paths on a machine that has them all:
 * PORTPLEX_INTEROP_MISSING=nginx,haproxy node --test dist/test/interop/
 */
function pretendMissing(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return (process.env.PORTPLEX_INTEROP_MISSING ?? '').split(',').some((n) => n.trim() === base);
}

/** Absolute path of a program: `path` if given (and executable), else the first hit in $PATH and the sbin dirs. */
export function findTool(name: string, path?: string): string | undefined {
  if (pretendMissing(name)) return undefined;
  if (path !== undefined) return isExecutable(path) ? path : undefined;
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const file = join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

export function missingToolMessage(name: string, path?: string): string {
  const base = name.includes('/') ? name.slice(name.lastIndexOf('/') + 1) : name;
  const pkg = DEBIAN_PACKAGES[base] ?? base;
  const where = path ?? (name.includes('/') ? name : `$PATH and ${EXTRA_DIRS.join(', ')}`);
  return `${base} not found (looked in ${where}): install the Debian package "${pkg}" (apt-get install -y ${pkg})`;
}

/**
 * Finds a program the test needs. When it is absent the test is skipped with a message naming
 * the Debian package to install, and undefined is returned (the caller returns at once). Under
 * CI=true a missing program is an error instead: the test fails, so CI never goes green by
 * silently skipping the interop suite.
 */
/**
 * Headless Chromium as the tests run it: no sandbox (root in CI), no GPU, no first-run UI, no
 * proxy, nothing fetched in the background, and its own profile directory.
 */
export function chromiumBaseArgs(profile: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--no-proxy-server',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
  ];
}

/** Skips locally with `message`; under CI=true a missing prerequisite is a failure, never a skip. */
export function skipUnlessCi(t: SkippableScope, message: string): void {
  if (process.env.CI === 'true') throw new Error(`${message} (required under CI=true)`);
  t.skip(message);
}

export function requireTool(t: SkippableScope, name: string, path?: string): string | undefined {
  const found = findTool(name, path);
  if (found === undefined) skipUnlessCi(t, missingToolMessage(name, path));
  return found;
}

/** requireTool for several programs at once: all their paths, or undefined (skipped) if any is missing. */
export function requireTools<K extends string>(t: SkippableScope, names: readonly K[]): Record<K, string> | undefined {
  const missing = names.filter((n) => findTool(n) === undefined);
  if (missing.length > 0) {
    skipUnlessCi(t, missing.map((n) => missingToolMessage(n)).join('; '));
    return undefined;
  }
  return Object.fromEntries(names.map((n) => [n, findTool(n)!])) as Record<K, string>;
}

/**
 * Runs `fn` after the test, in reverse order of registration among the helpers' cleanups (node:test
 * runs `after` hooks first-in first-out, but a temp dir must outlive the daemon that writes in it).
 * Every cleanup runs even if an earlier one throws; the first error is rethrown at the end.
 */
const stacks = new WeakMap<Scope, (() => unknown)[]>();
export function defer(t: Scope, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (stack === undefined) {
    const fresh: (() => unknown)[] = [];
    stack = fresh;
    stacks.set(t, fresh);
    t.after(async () => {
      let first: unknown;
      while (fresh.length > 0) {
        try {
          await fresh.pop()!();
        } catch (e) {
          first ??= e;
        }
      }
      if (first !== undefined) throw first;
    });
  }
  stack.push(fn);
}

/** A fresh directory under os.tmpdir(), removed (recursively) after the test. */
export function makeTempDir(t: Scope, prefix = 'portplex-interop-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // A program stopped just before (Chromium's helper processes outlive its main one for a moment) may
  // still write into the directory: retry ENOTEMPTY/EBUSY for up to a second instead of failing the test.
  defer(t, () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  return dir;
}

/** Rejects with a message naming what was awaited when `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

/** Every child still alive, killed when this process exits or is told to stop, whatever happens to the tests. */
const live = new Set<ChildProcess>();
let safetyNetInstalled = false;

function installSafetyNet(): void {
  if (safetyNetInstalled) return;
  safetyNetInstalled = true;
  const killAll = (): void => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    live.clear();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      killAll();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Spawned {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  /** Exit status once exited, else undefined. */
  exit(): Exit | undefined;
  stdout(): string;
  stderr(): string;
  /** Resolves with all stdout+stderr so far once `test` holds; rejects if the process exits first or on timeout. */
  waitForOutput(test: RegExp | ((text: string) => boolean), timeoutMs?: number, what?: string): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit status. Idempotent. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<Exit>;
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Hard upper bound on the process's life: it is killed after this long whatever the test does. Default 60 s. */
  readonly lifetimeMs?: number;
  /** Name used in messages. Default: the program's base name. */
  readonly name?: string;
  /** Data written to stdin (then closed). Without it, stdin is /dev/null. */
  readonly input?: string | Buffer;
}

/**
 * Spawns a long-running program (a daemon in the foreground). It is stopped in the test's
 * `after`, killed when its lifetime runs out, and killed if this test process exits.
 */
export function spawnBounded(t: Scope, cmd: string, args: readonly string[], opts: SpawnOptions = {}): Spawned {
  installSafetyNet();
  const name = opts.name ?? cmd.slice(cmd.lastIndexOf('/') + 1);
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  let status: Exit | undefined;
  const watchers = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...watchers]) w();
  };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    notify();
  });
  if (opts.input !== undefined) {
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(opts.input);
  }
  const exited = new Promise<Exit>((resolve) => {
    const done = (e: Exit): void => {
      if (status !== undefined) return;
      status = e;
      live.delete(child);
      clearTimeout(lifetime);
      resolve(e);
      notify();
    };
    child.once('exit', (code, signal) => done({ code, signal }));
    child.once('error', (e) => {
      err += `\n[spawn error: ${e.message}]`;
      done({ code: null, signal: null });
    });
  });
  const lifetime = setTimeout(() => {
    err += `\n[killed: lifetime of ${opts.lifetimeMs ?? 60_000} ms exceeded]`;
    child.kill('SIGKILL');
  }, opts.lifetimeMs ?? 60_000);
  lifetime.unref();

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<Exit> => {
    if (status !== undefined) return status;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  defer(t, () => stop());

  const handle: Spawned = {
    name,
    child,
    exited,
    exit: () => status,
    stdout: () => out,
    stderr: () => err,
    stop,
    waitForOutput(test, timeoutMs = 10_000, what) {
      const holds = (): boolean => {
        const text = out + err;
        return typeof test === 'function' ? test(text) : test.test(text);
      };
      const label = what ?? `${name} to print ${String(test)}`;
      return new Promise<string>((resolve, reject) => {
        const finish = (e?: Error): void => {
          watchers.delete(check);
          clearTimeout(timer);
          if (e) reject(e);
          else resolve(out + err);
        };
        const check = (): void => {
          if (holds()) finish();
          else if (status !== undefined) finish(new Error(`${name} exited (${describeExit(status)}) before ${label}. Output:\n${out}${err}`));
        };
        const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${label}. Output so far:\n${out}${err}`)), timeoutMs);
        watchers.add(check);
        check();
      });
    },
  };
  return handle;
}

export function describeExit(e: Exit): string {
  return e.signal !== null ? `signal ${e.signal}` : `exit code ${e.code}`;
}

export interface RunResult extends Exit {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a short-lived command to completion (killed after `timeoutMs`, default 10 s), with optional stdin. */
export async function runTool(
  t: Scope,
  cmd: string,
  args: readonly string[],
  opts: { input?: string | Buffer; timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const p = spawnBounded(t, cmd, args, { lifetimeMs: timeoutMs, ...opts });
  const exit = await p.exited;
  return { ...exit, stdout: p.stdout(), stderr: p.stderr() };
}

// ---------------------------------------------------------------------------------------------
// Ports

/** A port that was free a moment ago (bound on 0, read, closed). Another process may take it: see retryOnAddrInUse. */
/** Ports this process already handed out: the system may offer a just-closed port again at once. */
const handedOut = new Set<number>();

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const s = createServer();
    s.listen(0, host);
    await once(s, 'listening');
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Resolves once `host:port` accepts a TCP connection; rejects on timeout or when `proc` exits first. */
export async function waitForPort(port: number, opts: { host?: string; timeoutMs?: number; proc?: Spawned } = {}): Promise<void> {
  const host = opts.host ?? '127.0.0.1';
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exit = opts.proc?.exit();
    if (exit !== undefined) throw new Error(`${opts.proc!.name} exited (${describeExit(exit)}) before listening on ${host}:${port}. Output:\n${opts.proc!.stdout()}${opts.proc!.stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      const t = setTimeout(() => (s.destroy(), resolve(false)), 500);
      s.once('connect', () => (clearTimeout(t), s.destroy(), resolve(true)));
      s.once('error', () => (clearTimeout(t), resolve(false)));
    });
    if (ok) return;
    if (Date.now() >= deadline) {
      const more = opts.proc ? ` Output of ${opts.proc.name}:\n${opts.proc.stdout()}${opts.proc.stderr()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${host}:${port} to accept connections.${more}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * freePort() is racy: between closing the probe and the daemon binding, something else may take
 * the port. Runs `attempt` up to `tries` times while it fails with "address in use".
 */
export async function retryOnAddrInUse<T>(attempt: () => Promise<T>, tries = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (i >= tries || !/address already in use|EADDRINUSE|cannot bind socket/i.test((e as Error).message)) throw e;
    }
  }
}

/**
 * The source address clients in interop tests connect from: 127.0.0.2 where the loopback
 * accepts it (Linux routes all of 127/8 to lo), so that the address a backend reports cannot
 * be confused with portplex's own 127.0.0.1; 127.0.0.1 elsewhere.
 */
let sourceAddress: Promise<string> | undefined;
export function clientSourceAddress(): Promise<string> {
  return (sourceAddress ??= new Promise<string>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve('127.0.0.1'));
    s.listen(0, '127.0.0.2', () => s.close(() => resolve('127.0.0.2')));
  }));
}

// ---------------------------------------------------------------------------------------------
// Clients

export interface HttpAnswer {
  /** The client socket's own address and source port: what a PROXY consumer must report. */
  readonly localAddress: string;
  readonly localPort: number;
  readonly head: string;
  readonly body: string;
}

/** Everything the peer sends until it closes (bounded by `timeoutMs`); the socket is destroyed afterwards. */
export function readUntilClose(socket: Socket, what: string, timeoutMs = 10_000): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.once('error', reject);
      socket.once('close', () => resolve(Buffer.concat(chunks)));
    }),
    timeoutMs,
    what,
  ).finally(() => socket.destroy());
}

function splitHttp(raw: Buffer): { head: string; body: string } {
  const text = raw.toString('utf8');
  const i = text.indexOf('\r\n\r\n');
  return i < 0 ? { head: text, body: '' } : { head: text.slice(0, i), body: text.slice(i + 4) };
}

/** Connects from clientSourceAddress() to 127.0.0.1:`port`. */
export async function connectFromClientAddress(port: number): Promise<Socket> {
  const localAddress = await clientSourceAddress();
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  await withTimeout(new Promise<void>((r, j) => socket.once('connect', r).once('error', j)), 10_000, `TCP connect to 127.0.0.1:${port}`);
  return socket;
}

/** One HTTP/1.1 GET (Connection: close) over a raw socket from clientSourceAddress(); the answer once the server closed. */
export async function httpGet(port: number, host: string): Promise<HttpAnswer> {
  const socket = await connectFromClientAddress(port);
  const local = { localAddress: socket.localAddress!, localPort: socket.localPort! };
  socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  return { ...local, ...splitHttp(await readUntilClose(socket, `the HTTP answer for Host ${host}`)) };
}

/**
 * One HTTPS GET over TLS with SNI `servername`, from clientSourceAddress(). With `ca`, the
 * server's certificate must chain to it and match the name; without, it is not checked.
 */
export async function httpsGet(port: number, servername: string, opts: { ca?: Buffer } = {}): Promise<HttpAnswer & { alpn: string | false | null }> {
  // tls.connect has no localAddress option: connect the TCP socket first, then start TLS on it.
  const tcp = await connectFromClientAddress(port);
  const local = { localAddress: tcp.localAddress!, localPort: tcp.localPort! };
  const socket = tlsConnect({
    socket: tcp,
    servername,
    ALPNProtocols: ['http/1.1'],
    ...(opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }),
  });
  try {
    await withTimeout(new Promise<void>((r, j) => socket.once('secureConnect', r).once('error', j)), 10_000, `the TLS handshake with SNI ${servername}`);
  } catch (e) {
    socket.destroy();
    throw e;
  }
  const alpn = socket.alpnProtocol;
  socket.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
  return { ...local, alpn, ...splitHttp(await readUntilClose(socket, `the HTTPS answer for SNI ${servername}`)) };
}

/** `s` with regular-expression metacharacters escaped. */
export function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// nginx

export interface RunningNginx {
  readonly proc: Spawned;
  readonly dir: string;
  /** `listen ... proxy_protocol;` answering "addr=$proxy_protocol_addr port=$proxy_protocol_port remote=$remote_addr:$remote_port". */
  readonly plainPort: number;
  /** Same, plus `set_real_ip_from 127.0.0.1; real_ip_header proxy_protocol;`: $remote_addr/$remote_port are the client's. */
  readonly realIpPort: number;
  /** `listen ... ssl proxy_protocol;` with the demo certificate, real IP from the header, answering with SNI and protocol too. */
  readonly tlsPort: number;
  errorLog(): string;
}

const NGINX_BODY = 'addr=$proxy_protocol_addr port=$proxy_protocol_port remote=$remote_addr:$remote_port';

/**
 * A whole nginx.conf that keeps everything (pid, logs, temp paths) in `dir`, with `http` holding
 * the test's own directives and servers. As root, nginx's workers would run as nobody and could
 * not read the temp dir (0700), so they run as root there.
 */
export function nginxMainConfig(dir: string, http: string, header = ''): string {
  const asRoot = process.getuid?.() === 0;
  return `${header}${asRoot ? 'user root;\n' : ''}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${http}}
`;
}

export function nginxConfig(dir: string, ports: { plain: number; realIp: number; tls: number }): string {
  return nginxMainConfig(
    dir,
    `  default_type text/plain;

  server {
    listen 127.0.0.1:${ports.plain} proxy_protocol;
    location / { return 200 "server=plain ${NGINX_BODY}\\n"; }
  }

  server {
    listen 127.0.0.1:${ports.realIp} proxy_protocol;
    # Server level on purpose: "return" runs in the rewrite phase, before the location-level realip handler.
    set_real_ip_from 127.0.0.1;
    real_ip_header proxy_protocol;
    location / { return 200 "server=realip ${NGINX_BODY}\\n"; }
  }

  server {
    listen 127.0.0.1:${ports.tls} ssl proxy_protocol;
    ssl_certificate ${DEMO_CERT};
    ssl_certificate_key ${DEMO_KEY};
    set_real_ip_from 127.0.0.1;
    real_ip_header proxy_protocol;
    location / { return 200 "server=tls ${NGINX_BODY} sni=$ssl_server_name tls=$ssl_protocol\\n"; }
  }
`,
    '# written by test/helpers/interop.ts\n',
  );
}

/** Starts a real nginx in the foreground, everything (pid, logs, temp paths) in a temp dir; stopped after the test. */
export async function startNginx(t: Scope, nginx: string): Promise<RunningNginx> {
  const dir = makeTempDir(t, 'portplex-nginx-');
  return retryOnAddrInUse(async () => {
    const ports = { plain: await freePort(), realIp: await freePort(), tls: await freePort() };
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxConfig(dir, ports));
    // -e: nginx opens its error log before reading the config; keep it out of /var/log.
    const proc = spawnBounded(t, nginx, ['-e', join(dir, 'error.log'), '-p', dir + '/', '-c', conf, '-g', 'daemon off;'], { name: 'nginx' });
    const errorLog = (): string => {
      try {
        return readFileSync(join(dir, 'error.log'), 'utf8');
      } catch {
        return '';
      }
    };
    try {
      for (const p of [ports.plain, ports.realIp, ports.tls]) await waitForPort(p, { proc });
    } catch (e) {
      await proc.stop();
      throw new Error(`${(e as Error).message}\nnginx error.log:\n${errorLog()}`);
    }
    return { proc, dir, plainPort: ports.plain, realIpPort: ports.realIp, tlsPort: ports.tls, errorLog };
  });
}

// ---------------------------------------------------------------------------------------------
// HAProxy

export interface RunningHaproxy {
  readonly proc: Spawned;
  /** `bind ... accept-proxy` in mode http, answering "src=%[src] port=%[src_port]". */
  readonly httpPort: number;
  /** `bind ... accept-proxy ssl crt <demo>`, answering with src, src_port, the PROXY v2 authority TLV and the TLS SNI. */
  readonly tlsPort: number;
}

/** Starts a real HAProxy in the foreground (-db) with PROXY-accepting frontends; stopped after the test. */
export async function startHaproxy(t: Scope, haproxy: string): Promise<RunningHaproxy> {
  const dir = makeTempDir(t, 'portplex-haproxy-');
  const pem = join(dir, 'demo.pem');
  writeFileSync(pem, readFileSync(DEMO_CERT, 'utf8') + readFileSync(DEMO_KEY, 'utf8'));
  return retryOnAddrInUse(async () => {
    const httpPort = await freePort();
    const tlsPort = await freePort();
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      `# written by test/helpers/interop.ts
global
  log stderr format raw local0 notice

defaults
  mode http
  log global
  timeout connect 5s
  timeout client 10s
  timeout server 10s

frontend plain
  bind 127.0.0.1:${httpPort} accept-proxy
  http-request return status 200 content-type text/plain lf-string "server=haproxy src=%[src] port=%[src_port]\\n"

frontend tls
  bind 127.0.0.1:${tlsPort} accept-proxy ssl crt ${pem}
  http-request return status 200 content-type text/plain lf-string "server=haproxy-tls src=%[src] port=%[src_port] authority=%[fc_pp_authority] sni=%[ssl_fc_sni]\\n"
`,
    );
    const proc = spawnBounded(t, haproxy, ['-f', cfg, '-db'], { name: 'haproxy' });
    try {
      await waitForPort(httpPort, { proc });
      await waitForPort(tlsPort, { proc });
    } catch (e) {
      await proc.stop();
      throw e;
    }
    return { proc, httpPort, tlsPort };
  });
}
