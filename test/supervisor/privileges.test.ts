import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planPrivileges, primaryGroupOf } from '../../src/supervisor/privileges.js';

it('root without a user is refused unless --allow-root; a user is dropped to; non-root ignores user', () => {
  assert.equal(planPrivileges(undefined, undefined, { allowRoot: false, uid: 0 }).kind, 'refuse');
  assert.deepEqual(planPrivileges(undefined, undefined, { allowRoot: true, uid: 0 }), { kind: 'none' });
  assert.deepEqual(planPrivileges('nobody', 'nogroup', { allowRoot: false, uid: 0 }), { kind: 'drop', user: 'nobody', group: 'nogroup' });
  assert.equal(planPrivileges('nobody', undefined, { allowRoot: false, uid: 1000 }).kind, 'ignore');
  assert.deepEqual(planPrivileges(undefined, undefined, { allowRoot: false, uid: 1000 }), { kind: 'none' });
  assert.equal(planPrivileges('no-such-user-here', undefined, { allowRoot: false, uid: 0 }).kind, 'refuse');
});

it('the primary group comes from the passwd file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portplex-passwd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'passwd');
  writeFileSync(f, 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nodd:x:5:notanumber::/:/bin/sh\n');
  assert.equal(primaryGroupOf('nobody', f), 65534);
  assert.equal(primaryGroupOf('root', f), 0);
  assert.equal(primaryGroupOf('odd', f), undefined);
  assert.equal(primaryGroupOf('missing', f), undefined);
  assert.equal(primaryGroupOf('x', join(dir, 'nope')), undefined);
});
