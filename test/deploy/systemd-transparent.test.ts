/**
 * deploy/portplex-transparent.service: the transparent-mode variant of portplex.service.
 * `systemd-analyze verify` on a copy pointing at this checkout; CAP_NET_ADMIN granted and nothing
 * more than portplex.service's otherwise; the routing applied before the start (as root, "+") and
 * removed after the stop, for the same rule file the service runs; and a diff against
 * portplex.service limited to those lines, so that the two units cannot drift apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, requireTool, runTool } from '../helpers/interop.js';
import { readRepoFile, REPO_ROOT, unitSection } from './support.js';

const TEXT = readRepoFile('deploy/portplex-transparent.service');
const PLAIN = readRepoFile('deploy/portplex.service');
const service = unitSection(TEXT, 'Service');
const plain = unitSection(PLAIN, 'Service');
const RULES = '/etc/portplex/portplex.yaml';
const CLI = '/usr/bin/node /opt/portplex/dist/src/cli.js';

test('systemd-analyze verify finds nothing to report in the transparent unit', async (t) => {
  const analyze = requireTool(t, 'systemd-analyze');
  if (analyze === undefined) return;
  const dir = makeTempDir(t, 'portplex-systemd-');
  const unit = join(dir, 'portplex-transparent.service');
  writeFileSync(unit, TEXT.replaceAll('/usr/bin/node ', `${process.execPath} `).replaceAll('/opt/portplex/', REPO_ROOT));
  const r = await runTool(t, analyze, ['verify', unit], { timeoutMs: 30_000 });
  const about = (r.stdout + r.stderr).split('\n').filter((l) => l.includes('portplex-transparent.service'));
  assert.deepEqual(about, [], r.stdout + r.stderr);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('CAP_NET_ADMIN is added to CAP_NET_BIND_SERVICE, as the unprivileged user, and nothing else', () => {
  assert.deepEqual(service.get('User'), ['portplex']);
  assert.deepEqual(service.get('AmbientCapabilities'), ['CAP_NET_BIND_SERVICE CAP_NET_ADMIN']);
  assert.deepEqual(service.get('CapabilityBoundingSet'), ['CAP_NET_BIND_SERVICE CAP_NET_ADMIN']);
  assert.deepEqual(service.get('NoNewPrivileges'), ['yes']);
});

test('the routing is applied before the start and removed after the stop, for the rules the service runs', () => {
  assert.ok(service.get('ExecStart')![0]!.includes(`--rules ${RULES}`));
  assert.deepEqual(service.get('ExecStartPre'), [`${CLI} check ${RULES}`, `+${CLI} transparent setup --rules ${RULES} --apply`]);
  assert.deepEqual(service.get('ExecStopPost'), [`+${CLI} transparent setup --rules ${RULES} --remove`]);
});

test('otherwise the same unit as portplex.service', () => {
  const differ = new Set(['AmbientCapabilities', 'CapabilityBoundingSet', 'ExecStartPre', 'ExecStopPost']);
  const keys = new Set([...service.keys(), ...plain.keys()]);
  for (const k of keys) if (!differ.has(k)) assert.deepEqual(service.get(k), plain.get(k), `[Service] ${k}=`);
  assert.deepEqual(unitSection(TEXT, 'Unit'), unitSection(PLAIN, 'Unit'));
  assert.deepEqual(unitSection(TEXT, 'Install'), unitSection(PLAIN, 'Install'));
});
