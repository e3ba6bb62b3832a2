#!/usr/bin/env node
/**
 * Runs the native tests (dist/test/native/) and a bounded soak on the native data plane against
 * the sanitizer build (scripts/build-native-sanitized.mjs -> build-sanitized/portplex.node).
 * node itself is not instrumented, so the ASan and UBSan runtimes are preloaded (ASan must come
 * first in the process); the addon is picked by PORTPLEX_NATIVE_ADDON (src/native/addon.ts).
 *
 * Fails on a non-zero exit of either part and, independently, on any sanitizer report: every
 * report is written to a log file (log_path) and the output is scanned too, since a report in a
 * child process (node --test runs each file in one) need not change the parent's exit code.
 * detect_leaks=0: LeakSanitizer reports node's and V8's own allocations still held at exit, which
 * are not ours; leaks in the addon are valgrind's job (scripts/valgrind-soak.mjs).
 *
 *   node scripts/test-sanitized.mjs [--addon file.node] [--soak-seconds N] [--only tests|soak]
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
};
const addon = resolve(arg('--addon', join(ROOT, 'build-sanitized', 'portplex.node')));
const soakSeconds = Number(arg('--soak-seconds', '60'));
const only = arg('--only', 'all');
const say = (line) => process.stderr.write(`test-sanitized: ${line}\n`);
const die = (line) => {
  say(`error: ${line}`);
  process.exit(1);
};

if (!existsSync(addon)) die(`${addon} is missing (node scripts/build-native-sanitized.mjs builds it)`);
if (!existsSync(join(ROOT, 'dist', 'test', 'native'))) die('dist/ is missing (npm run build)');
const runtime = (lib) => {
  const r = spawnSync(process.env['CC'] || 'gcc', [`-print-file-name=${lib}`], { encoding: 'utf8' });
  const path = r.stdout?.trim() ?? '';
  // gcc prints the bare name back when it has no such library.
  if (r.status !== 0 || !path.startsWith('/') || !existsSync(path)) die(`gcc has no ${lib} (apt-get install gcc)`);
  return path;
};
const preload = [runtime('libasan.so'), runtime('libubsan.so')].join(':');
const logs = mkdtempSync(join(tmpdir(), 'portplex-sanitizer-'));
const env = {
  ...process.env,
  CI: 'true', // test/native/ then fails instead of skipping when the addon does not load
  PORTPLEX_NATIVE_ADDON: addon,
  LD_PRELOAD: preload,
  ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=66:log_path=${join(logs, 'asan')}`,
  UBSAN_OPTIONS: `halt_on_error=1:print_stacktrace=1:exitcode=67:log_path=${join(logs, 'ubsan')}`,
};
delete env['PORTPLEX_DATAPLANE'];

/** Runs a command under the sanitizers, output kept for the scan and passed through (stdout: only on failure when `quietStdout`). */
function run(label, args, quietStdout = false) {
  say(`${label}: node ${args.join(' ')}`);
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (stream, to) => stream.on('data', (b) => {
      output += b.toString('utf8');
      to.write(b);
    });
    let held = '';
    child.stdout.on('data', (b) => (held += b.toString('utf8')));
    if (!quietStdout) keep(child.stdout, process.stdout);
    else child.stdout.on('data', (b) => (output += b.toString('utf8')));
    keep(child.stderr, process.stderr);
    child.on('close', (code, signal) => {
      if (quietStdout && code !== 0) process.stdout.write(held);
      done({ label, code, signal, output, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const REPORT = /ERROR: AddressSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer|runtime error: /;
const results = [];
if (only === 'all' || only === 'tests') results.push(await run('native tests', ['--test', '--test-concurrency=1', join('dist', 'test', 'native')]));
if (only === 'all' || only === 'soak') results.push(await run(`soak ${soakSeconds}s`, ['--expose-gc', join('scripts', 'soak-native.mjs'), '--seconds', String(soakSeconds), '--concurrency', '32', '--quiet'], true));

const reports = readdirSync(logs).map((f) => ({ f, text: readFileSync(join(logs, f), 'utf8') })).filter((r) => r.text.trim() !== '');
for (const r of reports) process.stderr.write(`--- ${r.f}\n${r.text}\n`);
rmSync(logs, { recursive: true, force: true });
let failed = reports.length > 0;
for (const r of results) {
  const seen = REPORT.test(r.output);
  const ok = r.code === 0 && !seen;
  failed ||= !ok;
  say(`${r.label}: ${ok ? 'ok' : 'FAILED'} in ${r.seconds.toFixed(0)}s (exit ${r.code ?? r.signal}${seen ? ', sanitizer report in its output' : ''})`);
}
if (reports.length > 0) say(`${reports.length} sanitizer report file(s), shown above`);
if (failed) die('the sanitizer run failed');
say('no AddressSanitizer or UndefinedBehaviorSanitizer report');
