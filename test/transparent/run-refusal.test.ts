/** `portplex run` refuses transparent servers it cannot serve, before it binds anything (exit 1, PORTPLEX_ERR_TRANSPARENT). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, makeTempDir, runTool, skipUnlessCi } from '../helpers/interop.js';

const CLI = join(REPO_ROOT, 'dist/src/cli.js');

it('on the js data plane, and as root with a user: switch that would drop CAP_NET_ADMIN', async (t) => {
  const dir = makeTempDir(t, 'portplex-tp-refuse-');
  const write = (extra: string): string => {
    const f = join(dir, `r${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(f, `${extra}listeners: ["127.0.0.1:0"]\nbackends:\n  ssh: { transparent: true, servers: ["127.0.0.1:22"] }\ndefault: ssh\n`);
    return f;
  };
  const env = { ...process.env };
  delete env['PORTPLEX_DATAPLANE'];
  const js = await runTool(t, process.execPath, [CLI, 'run', '--rules', write(''), '--workers', '0', '--allow-root', '--dataplane', 'js'], { env, timeoutMs: 15_000 });
  assert.equal(js.code, 1, js.stdout + js.stderr);
  assert.match(js.stderr, /^PORTPLEX_ERR_TRANSPARENT: backend "ssh" server 127\.0\.0\.1:22 is transparent, and transparent mode needs the native data plane/m);
  if (process.getuid?.() !== 0) {
    skipUnlessCi(t, 'the user: case needs root');
    return;
  }
  const sw = await runTool(t, process.execPath, [CLI, 'run', '--rules', write('user: nobody\n'), '--workers', '0', '--dataplane', 'auto'], { env, timeoutMs: 15_000 });
  assert.equal(sw.code, 1, sw.stdout + sw.stderr);
  assert.match(sw.stderr, /PORTPLEX_ERR_TRANSPARENT: .*(the switch to user "nobody" after binding drops CAP_NET_ADMIN|needs the native data plane)/);
});
