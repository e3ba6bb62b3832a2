/**
 * deploy/portplex.service: `systemd-analyze verify` on a copy whose paths point at this checkout
 * (verify checks that every Exec*= program exists), the settings a drain, a reload and a non-root
 * bind of :443 depend on, and the ExecStartPre check command run for real.
 *
 * systemd-analyze comes with the Debian package "systemd", which .ci/run does not install: when
 * it is missing the verify test is skipped, under CI=true too (the only tool allowed to skip
 * there). The other tests need nothing but node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, requireTool, runTool } from '../helpers/interop.js';
import { durationMs, flagValue, readRepoFile, REPO_ROOT, unitSection } from './support.js';

const UNIT_TEXT = readRepoFile('deploy/portplex.service');

const service = unitSection(UNIT_TEXT, 'Service');
const only = (key: string): string => {
  const v = service.get(key);
  assert.equal(v?.length, 1, `[Service] ${key}= once`);
  return v[0]!;
};

/** The unit with the installed paths replaced by this checkout's, so that verify finds the programs. */
function localCopy(): string {
  for (const p of ['/usr/bin/node ', '/opt/portplex/']) assert.ok(UNIT_TEXT.includes(p), `the unit names ${p}`);
  return UNIT_TEXT.replaceAll('/usr/bin/node ', `${process.execPath} `).replaceAll('/opt/portplex/', REPO_ROOT);
}

test('systemd-analyze verify finds nothing to report in the unit', async (t) => {
  // .ci/run installs the "systemd" package: like the other tools, missing under CI=true is a failure.
  const analyze = requireTool(t, 'systemd-analyze');
  if (analyze === undefined) return;
  const dir = makeTempDir(t, 'portplex-systemd-');
  const unit = join(dir, 'portplex.service');
  writeFileSync(unit, localCopy());
  const r = await runTool(t, analyze, ['verify', unit], { timeoutMs: 30_000 });
  // verify exits 0 for unknown keys and unparsable values: it only prints them, naming the unit.
  const about = (r.stdout + r.stderr).split('\n').filter((l) => l.includes('portplex.service'));
  assert.deepEqual(about, [], r.stdout + r.stderr);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('non-root, binding :443 with CAP_NET_BIND_SERVICE alone', () => {
  assert.equal(only('User'), 'portplex');
  assert.equal(only('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(only('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.equal(only('NoNewPrivileges'), 'yes');
  assert.equal(service.get('DynamicUser'), undefined);
});

test('stop drains: SIGTERM to the main process only, for less time than systemd waits', () => {
  assert.equal(only('KillMode'), 'mixed');
  assert.equal(only('KillSignal'), 'SIGTERM');
  const drain = durationMs(flagValue(only('ExecStart').split(/\s+/), '--drain-timeout'), 'ExecStart --drain-timeout');
  assert.ok(durationMs(only('TimeoutStopSec'), 'TimeoutStopSec') > drain);
  assert.equal(only('Restart'), 'on-failure');
});

test('start and reload check the same rule file the service runs; reload is SIGHUP', () => {
  const run = only('ExecStart').split(/\s+/);
  const rules = flagValue(run, '--rules');
  assert.ok(rules);
  const check = `/usr/bin/node /opt/portplex/dist/src/cli.js check ${rules}`;
  assert.equal(only('ExecStartPre'), check);
  assert.deepEqual(service.get('ExecReload'), [check, '/bin/kill -HUP $MAINPID']);
});

test('no hardening that breaks Node: V8 needs writable+executable memory', () => {
  assert.notEqual(service.get('MemoryDenyWriteExecute')?.[0], 'yes');
  const families = only('RestrictAddressFamilies').split(/\s+/);
  for (const f of ['AF_INET', 'AF_INET6', 'AF_UNIX']) assert.ok(families.includes(f), f);
});

test('the ExecStartPre command accepts a valid rule file and refuses a broken one with file:line:col', async (t) => {
  const [program, ...args] = localCopy()
    .split('\n')
    .find((l) => l.startsWith('ExecStartPre='))!
    .slice('ExecStartPre='.length)
    .split(/\s+/);
  // Its last argument, the installed rule file, is replaced by a good and a broken one.
  const dir = makeTempDir(t, 'portplex-systemd-');
  const good = join(REPO_ROOT, 'rules/examples/ssh-and-https.yaml');
  const bad = join(dir, 'portplex.yaml');
  writeFileSync(bad, readRepoFile('rules/examples/ssh-and-https.yaml').replace('to: sshd', 'to: no-such-backend'));
  const ok = await runTool(t, program!, [...args.slice(0, -1), good], { timeoutMs: 30_000 });
  assert.equal(ok.code, 0, ok.stderr);
  const refused = await runTool(t, program!, [...args.slice(0, -1), bad], { timeoutMs: 30_000 });
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: .*no-such-backend`));
});
