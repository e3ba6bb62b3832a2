/**
 * Running the nginx server blocks shipped under deploy/ with Debian's nginx, unprivileged: every
 * path nginx writes (pid, logs, temp) in a temp prefix, and the shipped file included inside an
 * `http { }` like the nginx image's own nginx.conf does.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nginxMainConfig, runTool, type RunResult, type Scope } from '../helpers/interop.js';

/**
 * `text` with each `from` replaced by its `to`, failing the test when one does not occur: a
 * substitution that silently matched nothing would check a file other than the one shipped.
 */
export function substitute(text: string, pairs: readonly (readonly [string | RegExp, string])[], what: string): string {
  let out = text;
  for (const [from, to] of pairs) {
    const next = out.replace(typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : from, to);
    assert.notEqual(next, out, `${what}: "${String(from)}" not found`);
    out = next;
  }
  return out;
}

/** Writes `server` to dir/server.conf and a main nginx.conf including it; returns the main file. */
export function writeNginxConf(dir: string, server: string): string {
  writeFileSync(join(dir, 'server.conf'), server);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxMainConfig(dir, `  include ${dir}/server.conf;\n`));
  return conf;
}

/** nginx's arguments for `conf` in `dir`: -e keeps the early error log out of /var/log. */
export function nginxArgs(dir: string, conf: string): string[] {
  return ['-e', join(dir, 'error.log'), '-p', `${dir}/`, '-c', conf];
}

export function nginxTest(t: Scope, nginx: string, dir: string, conf: string): Promise<RunResult> {
  return runTool(t, nginx, [...nginxArgs(dir, conf), '-t'], { timeoutMs: 20_000 });
}

/** A throwaway self-signed certificate for CN=localhost: dir/fullchain.pem and dir/privkey.pem. */
export async function selfSignedCert(t: Scope, openssl: string, dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'fullchain.pem');
  const key = join(dir, 'privkey.pem');
  const r = await runTool(
    t,
    openssl,
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 0, `openssl req: ${r.stderr}`);
  return { cert, key };
}
