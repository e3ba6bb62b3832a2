#!/usr/bin/env node
/**
 * valgrind memcheck over a short soak of the native data plane: the soak (scripts/soak-native.mjs,
 * which fails unless the addon loaded and relayed) under `valgrind --leak-check=full`, then the
 * XML report filtered to what is ours. node under memcheck runs some 30x slower, so the soak is
 * short and narrow (40 s of the mix at concurrency 8 by default: a few hundred connections through
 * accept, inspect, connect, splice relay, respond and every close path).
 *
 * Fails on any memcheck error (invalid read/write, uninitialised value, bad free...) and any
 * definitely or indirectly lost block whose stack has a frame in portplex.node. Everything else
 * is node's and V8's: the JIT and the GC's conservative stack scan read uninitialised stack
 * words, and node keeps some startup allocations until exit (possibly lost / still reachable).
 * The soak's own timing checks cannot hold at this speed (clients miss the 500 ms inspect
 * deadline), so its verdict is reported but only a crash or the native-path check fails the run;
 * the sanitizer run (scripts/test-sanitized.mjs) and npm test check the bytes at full speed.
 *
 *   node scripts/valgrind-soak.mjs [--addon file.node] [--seconds N] [--concurrency N]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const addon = resolve(arg('--addon', join(ROOT, 'build', 'Release', 'portplex.node')));
const seconds = arg('--seconds', '40');
const concurrency = arg('--concurrency', '8');
const say = (line) => process.stderr.write(`valgrind-soak: ${line}\n`);
const die = (line) => {
  say(`error: ${line}`);
  process.exit(1);
};
if (!existsSync(addon)) die(`${addon} is missing (npm run build:native)`);
if (!existsSync(join(ROOT, 'dist', 'bench', 'soak', 'cli.js'))) die('dist/ is missing (npm run build)');

const dir = mkdtempSync(join(tmpdir(), 'portplex-valgrind-'));
const xml = join(dir, 'memcheck.xml');
const args = [
  '--tool=memcheck', '--leak-check=full', '--show-leak-kinds=definite,indirect', '--errors-for-leak-kinds=definite,indirect',
  '--num-callers=30', '--child-silent-after-fork=yes', '--xml=yes', `--xml-file=${xml}`,
  process.execPath, '--expose-gc', join(ROOT, 'scripts', 'soak-native.mjs'),
  '--seconds', seconds, '--concurrency', concurrency, '--warmup-ms', '2000', '--settle-ms', '3000', '--quiet',
];
const env = { ...process.env, PORTPLEX_NATIVE_ADDON: addon };
delete env['PORTPLEX_DATAPLANE'];
delete env['LD_PRELOAD'];
say(`valgrind ${args.slice(0, 8).join(' ')} node soak-native.mjs --seconds ${seconds} --concurrency ${concurrency} (addon ${addon})`);
const started = Date.now();
const { code, signal, stdout, stderr } = await new Promise((done, fail) => {
  const child = spawn('valgrind', args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (err += b));
  child.on('error', (e) => fail(e.code === 'ENOENT' ? new Error('valgrind is not installed (apt-get install valgrind)') : e));
  child.on('close', (c, s) => done({ code: c, signal: s, stdout: out, stderr: err }));
}).catch((e) => die(e.message));
const elapsed = ((Date.now() - started) / 1000).toFixed(0);

let report;
try {
  report = JSON.parse(stdout);
} catch {
  report = undefined;
}
if (report !== undefined) {
  say(`soak under memcheck: ${report.connections.total} connections in ${elapsed}s, ${report.wellFormed.ok}/${report.wellFormed.total} well-formed exact; its own verdict ${report.ok ? 'ok' : `not ok (${report.failedChecks.length} checks, expected at this speed)`}`);
  for (const c of report.failedChecks) say(`  soak check: ${c}`);
}

const ADDON = basename(addon);
const text = existsSync(xml) ? readFileSync(xml, 'utf8') : '';
rmSync(dir, { recursive: true, force: true });
if (!text.includes('</valgrindoutput>')) die(`memcheck wrote no complete report (exit ${code ?? signal}); stderr:\n${stderr.slice(-4000)}`);
const field = (block, tag) => new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(block)?.[1];
const errors = [...text.matchAll(/<error>([\s\S]*?)<\/error>/g)].map((m) => {
  const block = m[1];
  const frames = [...block.matchAll(/<frame>([\s\S]*?)<\/frame>/g)].map((f) => ({
    obj: field(f[1], 'obj') ?? '?',
    fn: field(f[1], 'fn') ?? '???',
    at: field(f[1], 'file') ? `${field(f[1], 'file')}:${field(f[1], 'line')}` : '',
  }));
  return { kind: field(block, 'kind') ?? '?', what: field(block, 'text') ?? field(block, 'what') ?? '', frames };
});
const ours = errors.filter((e) => e.frames.some((f) => basename(f.obj) === ADDON));
say(`memcheck: ${errors.length} error record(s) in all, ${ours.length} with a frame in ${ADDON}`);
for (const e of ours) {
  process.stderr.write(`\n${e.kind}: ${e.what}\n`);
  for (const f of e.frames) process.stderr.write(`    ${f.fn} ${f.at} (${basename(f.obj)})\n`);
}
// soak-native: 0 passed, 1 the soak's checks (timing, see above), 2 a crash, 3 its hard limit, 4 not native.
if (signal !== null || code === null || code >= 2) die(`the soak under memcheck ended with ${signal ?? `exit ${code}`}; stderr:\n${stderr.slice(-4000)}`);
if (ours.length > 0) die(`memcheck found ${ours.length} problem(s) in ${ADDON}`);
say(`no memcheck error and no definite leak in ${ADDON} (${elapsed}s)`);
