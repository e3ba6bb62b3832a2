/**
 * `run --workers 0` as root with `user:` re-reads admin.token_file on every reload as that user: a
 * token file only root can read is refused at start (PORTPLEX_ERR_ROOT), not on the first reload.
 * Needs root (CI runs as root); elsewhere it says so, and fails under CI=true.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, skipUnlessCi, spawnBounded } from '../helpers/interop.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

function rules(dir: string): string {
  const file = join(dir, 'rules.yaml');
  writeFileSync(
    file,
    `user: nobody\nlisteners: ["127.0.0.1:0"]\nbackends: { web: { servers: ["127.0.0.1:1"] } }\ndefault: web\nadmin:\n  listen: "127.0.0.1:0"\n  token_file: token\n`,
  );
  writeFileSync(join(dir, 'token'), 'token-0123456789abcdef0123\n');
  return file;
}

it('a token file the dropped-to user cannot read stops the start; one it can read starts', { timeout: 30_000 }, async (t) => {
  if (process.getuid?.() !== 0) {
    skipUnlessCi(t, 'dropping privileges needs root');
    return;
  }
  const closed = makeTempDir(t, 'portplex-token-drop-');
  chmodSync(join(closed), 0o700);
  // It must exit by itself: execFile kills it only if it outlives the timeout.
  const bad = await new Promise<{ code: number | null; out: string }>((resolve) => {
    execFile(process.execPath, [CLI, 'run', '--rules', rules(closed), '--workers', '0', '--log-format', 'json'], { timeout: 15_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, out: stdout + stderr });
    });
  });
  assert.match(bad.out, /PORTPLEX_ERR_ROOT/, bad.out);
  assert.match(bad.out, /admin\.token_file: .*token cannot be read: EACCES/, bad.out);
  assert.ok(typeof bad.code === 'number' && bad.code !== 0, `exit ${String(bad.code)}`);

  const open = makeTempDir(t, 'portplex-token-drop-');
  chmodSync(open, 0o755);
  const file = rules(open);
  chmodSync(join(open, 'token'), 0o644);
  const good = spawnBounded(t, process.execPath, [CLI, 'run', '--rules', file, '--workers', '0', '--log-format', 'json'], { name: 'portplex', lifetimeMs: 20_000 });
  await good.waitForOutput(/privileges dropped after binding/, 10_000, 'the privilege drop');
  assert.doesNotMatch(good.stdout() + good.stderr(), /PORTPLEX_ERR_ROOT/);
});
