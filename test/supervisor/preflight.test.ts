/**
 * `check` refuses or warns about what `run` would refuse at start on this machine, with the facts
 * of the process that runs it (passed in here, so every case runs without being root).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRulesText } from '../../src/config/load.js';
import type { RulesConfig } from '../../src/config/types.js';
import { preflight, systemHostFacts, type HostFacts } from '../../src/supervisor/preflight.js';
import { planPrivileges } from '../../src/supervisor/privileges.js';

function rules(extra: string, listeners = '["127.0.0.1:8443"]'): RulesConfig {
  const r = compileRulesText(`listeners: ${listeners}\nbackends:\n  web: { servers: ["127.0.0.1:1"] }\ndefault: web\n${extra}`, 'x.yaml');
  assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => i.message).join('\n'));
  return r.rules;
}

const PASSWD: Record<string, number> = { nobody: 65534, portplex: 999 };
const GROUPS = new Set(['nogroup', 'portplex']);

function facts(uid: number, over: Partial<HostFacts> = {}): HostFacts {
  return {
    uid,
    primaryGroupOf: (u) => PASSWD[u],
    userExists: (u) => u in PASSWD,
    groupExists: (g) => GROUPS.has(g),
    mayBindPort: () => true,
    isLocalAddress: () => true,
    hostResolves: () => true,
    ...over,
  };
}

const text = (issues: readonly { line: number; col: number; message: string }[]): string[] => issues.map((i) => `${i.line}:${i.col} ${i.message}`);

describe('privileges, as run plans them', () => {
  it('root with no user: a warning naming --allow-root, like the refusal of run', () => {
    const p = preflight(rules(''), facts(0));
    assert.deepEqual(p.errors, []);
    assert.equal(p.warnings.length, 1);
    assert.match(text(p.warnings)[0]!, /^1:1 started as root, as this check is, `run` refuses to start: .*no `user:`.*--allow-root/);
    // The same words as run's refusal.
    const refusal = planPrivileges(undefined, undefined, { allowRoot: false, uid: 0 });
    assert.ok(refusal.kind === 'refuse' && p.warnings[0]!.message.endsWith(refusal.message));
  });

  it('not root, or root with a user that exists: nothing', () => {
    assert.deepEqual(preflight(rules(''), facts(1000)), { errors: [], warnings: [] });
    assert.deepEqual(preflight(rules('user: nobody\n'), facts(0)), { errors: [], warnings: [] });
    assert.deepEqual(preflight(rules('user: portplex\ngroup: portplex\n'), facts(0)), { errors: [], warnings: [] });
  });

  it('root, a user missing from the passwd file and no group: the error run gives, at user:', () => {
    const p = preflight(rules('user: ghost\n'), facts(0));
    assert.deepEqual(p.errors.map((e) => e.code), ['PORTPLEX_ERR_ROOT']);
    assert.match(text(p.errors)[0]!, /^5:7 user: user "ghost" is not in \/etc\/passwd/);
  });

  it('root, a group or user that getgrnam / getpwnam do not know: errors at group: and user:', () => {
    const p = preflight(rules('user: ghost\ngroup: ghosts\n'), facts(0));
    assert.deepEqual(p.errors.map((e) => e.code), ['PORTPLEX_ERR_ROOT', 'PORTPLEX_ERR_ROOT']);
    assert.deepEqual(text(p.errors).map((t) => t.split(' ')[0]), ['6:8', '5:7']);
    assert.match(text(p.errors).join('\n'), /group: "ghosts" does not exist on this machine/);
    assert.match(text(p.errors).join('\n'), /user: "ghost" does not exist on this machine/);
  });

  it('not root: the same findings are warnings (run may be started as root elsewhere)', () => {
    const p = preflight(rules('user: ghost\n'), facts(1000));
    assert.deepEqual(p.errors, []);
    assert.match(text(p.warnings)[0]!, /^5:7 user: user "ghost" is not in \/etc\/passwd.*only a warning/);
  });

  it('a lookup that cannot tell is no finding', () => {
    const p = preflight(rules('user: ldapuser\ngroup: ldapgroup\n'), facts(0, { userExists: () => undefined, groupExists: () => undefined }));
    assert.deepEqual(p, { errors: [], warnings: [] });
  });
});

describe('binds the machine would refuse', () => {
  it('a privileged port without CAP_NET_BIND_SERVICE: a warning at the listener', () => {
    const p = preflight(rules('admin: { listen: "127.0.0.1:99" }\n', '["127.0.0.1:443", "127.0.0.1:8443"]'), facts(1000, { mayBindPort: (port) => port >= 1024 }));
    const w = text(p.warnings);
    assert.equal(w.length, 2, w.join('\n'));
    assert.match(w[0]!, /^1:13 listener "127\.0\.0\.1:443" binds 127\.0\.0\.1:443: port 443 is privileged .*CAP_NET_BIND_SERVICE.*EACCES/);
    assert.match(w[1]!, /^5:18 admin\.listen binds 127\.0\.0\.1:99/);
  });

  it('an address that is not this machine\'s: a warning; host names and wildcards are not judged', () => {
    const p = preflight(rules('', '["192.0.2.10:8443", "localhost:8444", ":8445"]'), facts(1000, { isLocalAddress: (a) => a !== '192.0.2.10' && a !== 'localhost' }));
    const w = text(p.warnings);
    assert.equal(w.length, 1, w.join('\n'));
    assert.match(w[0]!, /^1:13 listener "192\.0\.2\.10:8443" binds 192\.0\.2\.10:8443, but 192\.0\.2\.10 is not an address of this machine.*EADDRNOTAVAIL.*ip_nonlocal_bind/);
  });
});

it('a bind host name that does not resolve: a warning', () => {
  const p = preflight(rules('', '["no-such-host.invalid:8443", "localhost:8444"]'), facts(1000, { hostResolves: (n) => n === 'localhost' }));
  const w = text(p.warnings);
  assert.equal(w.length, 1, w.join('\n'));
  assert.match(w[0]!, /^1:13 listener "no-such-host\.invalid:8443" binds no-such-host\.invalid:8443, but the name no-such-host\.invalid does not resolve here.*ENOTFOUND/);
});

describe('the facts of this machine', () => {
  it('loopback is local, a documentation address is not (unless non-local binds are on); ports from 1024 bind', () => {
    const f = systemHostFacts();
    assert.equal(f.isLocalAddress('127.0.0.1'), true);
    assert.equal(f.isLocalAddress('127.0.0.2'), true, 'the whole loopback subnet binds on Linux');
    assert.equal(f.isLocalAddress('0.0.0.0'), true);
    assert.equal(f.mayBindPort(8443), true);
    assert.equal(f.userExists('root'), true);
    assert.equal(f.userExists('portplex-no-such-user'), false);
    assert.equal(f.groupExists('portplex-no-such-group'), false);
    assert.equal(f.hostResolves('localhost'), true);
    // RFC 6761 §6.4: .invalid names never resolve.
    assert.equal(f.hostResolves('no-such-host.invalid'), false);
    assert.equal(f.uid, process.getuid?.());
  });
});

describe('transparent servers, as run would refuse them', () => {
  const tp = (extra = ''): RulesConfig => {
    const r = compileRulesText(`${extra}listeners: ["127.0.0.1:8443"]\nbackends:\n  ssh: { transparent: true, servers: ["127.0.0.1:22"] }\ndefault: ssh\n`, 'x.yaml');
    assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => i.message).join('\n'));
    return r.rules;
  };
  it('with everything in place, nothing to say', () => {
    assert.deepEqual(preflight(tp(), facts(1000, { netAdmin: true })).warnings, []);
  });
  it('no native plane, dataplane: js, no CAP_NET_ADMIN: each said, none an error (run may be started otherwise); user: is no problem (the capability is kept)', () => {
    const p = preflight(tp('user: portplex\ndataplane: js\n'), facts(1000, { netAdmin: false, nativeUnavailable: 'the addon was not built' }));
    assert.deepEqual(p.errors, []);
    const w = text(p.warnings).join('\n');
    assert.match(w, /needs the native data plane, which cannot run here \(the addon was not built\)/);
    assert.match(w, /`dataplane: js` asks for node:net, which cannot set IP_TRANSPARENT/);
    assert.match(w, /^5:3 .*IP_TRANSPARENT needs CAP_NET_ADMIN, which this process \(uid 1000\) does not have/m);
    assert.doesNotMatch(w, /user/);
  });
  it('no transparent server, no word about it', () => {
    assert.doesNotMatch(text(preflight(rules(''), facts(1000, { netAdmin: false })).warnings).join('\n'), /transparent/);
  });
});
