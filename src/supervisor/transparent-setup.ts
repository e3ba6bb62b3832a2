/**
 * `portplex transparent setup`: prints the routing transparent mode needs (setup.ts), applies it
 * with --apply (idempotently: nft replaces its table whole, the ip rule is deleted before it is
 * added) and removes it with --remove. The one value it changes that something else may also use,
 * net.ipv4.conf.all.route_localnet, is recorded before --apply changes it and put back by
 * --remove, per network namespace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { formatIssues, loadRules } from '../config/load.js';
import { ERROR_CODES } from '../errors.js';
import { systemHostFacts } from './preflight.js';
import { renderScript, setupPlan, type SetupStep } from '../transparent/setup.js';

export interface SetupCliOptions {
  readonly rules: string;
  readonly apply: boolean;
  readonly remove: boolean;
  readonly mark: number;
  readonly table: number;
}

const LOCALNET = '/proc/sys/net/ipv4/conf/all/route_localnet';

/** Where --apply records route_localnet's value before it, one file per network namespace. */
function localnetRecord(): string {
  let ns = 'default';
  try {
    ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? ns;
  } catch {
    /* no /proc: one record */
  }
  return `/run/portplex/transparent-route-localnet.${ns}`;
}

function fail(message: string): number {
  process.stderr.write(`portplex transparent setup: ${message}\nPORTPLEX_ERR_TRANSPARENT_SETUP: ${ERROR_CODES.PORTPLEX_ERR_TRANSPARENT_SETUP}\n`);
  return 1;
}

function runStep(s: SetupStep): string | undefined {
  const r = spawnSync(s.argv[0]!, s.argv.slice(1), { input: s.stdin ?? '', encoding: 'utf8', timeout: 15_000 });
  if (r.error !== undefined) return s.mayFail ? undefined : `${s.argv.join(' ')}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? `${s.argv[0]} is not installed (Debian: ${s.argv[0] === 'nft' ? 'nftables' : s.argv[0] === 'ip' ? 'iproute2' : 'procps'})` : r.error.message}`;
  if (r.status !== 0 && !s.mayFail) return `${s.argv.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim()}`;
  return undefined;
}

export function transparentSetup(o: SetupCliOptions): number {
  const loaded = loadRules(o.rules);
  if (!loaded.ok) {
    process.stderr.write(formatIssues(loaded.code, loaded.issues) + '\n');
    return 2;
  }
  const facts = systemHostFacts();
  const plan = setupPlan(loaded.rules, { mark: o.mark, table: o.table, isLocal: (a) => facts.isLocalAddress(a) === true });
  if (!plan.ok) {
    process.stderr.write(`portplex transparent setup: ${plan.error}\n`);
    return 2;
  }
  if (!o.apply && !o.remove) {
    process.stdout.write(renderScript(plan, 'apply'));
    return 0;
  }
  const record = localnetRecord();
  if (o.remove) {
    for (const s of plan.remove) {
      const e = runStep(s);
      if (e !== undefined) return fail(e);
    }
    if (existsSync(record)) {
      const before = readFileSync(record, 'utf8').trim();
      const e = runStep({ argv: ['sysctl', '-q', '-w', `net.ipv4.conf.all.route_localnet=${before === '1' ? '1' : '0'}`], why: 'put route_localnet back' });
      if (e !== undefined) return fail(e);
      rmSync(record, { force: true });
    }
    process.stdout.write(`removed: table inet portplex_transparent, the fwmark rule and routing table ${o.table}\n`);
    return 0;
  }
  if (plan.routeLocalnet && !existsSync(record)) {
    // Recorded once, before the first --apply changes it: a second --apply must not record its own 1.
    mkdirSync('/run/portplex', { recursive: true });
    writeFileSync(record, readFileSync(LOCALNET, 'utf8'));
  }
  for (const s of plan.apply) {
    const e = runStep(s);
    if (e !== undefined) return fail(e);
  }
  process.stdout.write(renderScript(plan, 'apply').replace(/^# portplex transparent setup:.*\n/, '# applied:\n'));
  return 0;
}
