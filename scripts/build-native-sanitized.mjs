#!/usr/bin/env node
/**
 * The sanitizer build: native/portplex.c with AddressSanitizer and UndefinedBehaviorSanitizer
 * into build-sanitized/portplex.node (gitignored), apart from the release build in build/.
 * Compiled with gcc directly, not node-gyp: node-gyp always writes build/, and this build needs
 * its own flags. scripts/test-sanitized.mjs runs the native tests and a soak against it.
 *
 * `node scripts/build-native-sanitized.mjs [--source file.c] [--out file.node]` (the options are
 * for proving the checks with a deliberately broken copy). Exits 1 on any failure or warning.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findNodeDir } from './build-native.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const SANITIZE_FLAGS = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer', '-g', '-O1'];

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? resolve(process.argv[i + 1]) : fallback;
}

const source = option('--source', join(ROOT, 'native', 'portplex.c'));
const out = option('--out', join(ROOT, 'build-sanitized', 'portplex.node'));
const nodedir = findNodeDir();
if (nodedir === undefined) {
  process.stderr.write('build-native-sanitized: error: no Node headers (include/node/node_api.h) under npm\'s nodedir, /usr or this node\'s prefix\n');
  process.exit(1);
}
const cc = process.env['CC'] || 'gcc';
mkdirSync(dirname(out), { recursive: true });
// The same language and warning flags as binding.gyp; -shared without -z defs: the napi_* and
// uv_* symbols come from the node binary at load time.
const args = ['-std=gnu11', '-Wall', '-Wextra', '-Wshadow', '-Wformat=2', '-Wpointer-arith', '-Wno-unused-parameter', ...SANITIZE_FLAGS, '-fPIC', '-shared', '-pthread', `-I${join(nodedir, 'include', 'node')}`, '-DBUILDING_NODE_EXTENSION', source, '-o', out];
const started = Date.now();
const r = spawnSync(cc, args, { encoding: 'utf8' });
const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
if (r.error || r.status !== 0 || /\bwarning:/.test(output)) {
  process.stderr.write(`${output}build-native-sanitized: error: ${r.error ? r.error.message : r.status !== 0 ? `${cc} exited ${r.status ?? r.signal}` : 'compiler warnings'} (${cc} ${args.join(' ')})\n`);
  process.exit(1);
}
process.stderr.write(`build-native-sanitized: built ${out} in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
