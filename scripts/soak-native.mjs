#!/usr/bin/env node
/**
 * bench/soak on the native data plane, and proof that it was: the soak CLI (same arguments)
 * after checking the addon loads (PORTPLEX_NATIVE_ADDON or build/Release), then the addon's own
 * totals: pipes were created (the splice relay ran) and no connection is left open. Without this,
 * an addon that failed to load would silently soak the TypeScript data plane.
 *   node --expose-gc scripts/soak-native.mjs --seconds 60 --concurrency 32
 * Needs `npm run build` (dist/). Exits as the soak does, or 4 when the native path did not run.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fail = (msg) => {
  process.stderr.write(`soak-native: error: ${msg}\n`);
  process.exit(4);
};
if (process.env['PORTPLEX_DATAPLANE'] === 'js') fail('PORTPLEX_DATAPLANE=js selects the TypeScript data plane');
const { loadAddon } = await import(pathToFileURL(join(ROOT, 'dist', 'src', 'native', 'addon.js')).href);
const load = loadAddon();
if (!load.ok) fail(load.reason);

// The CLI reads process.argv; app.ts then gets the same cached addon from loadAddon().
process.argv = [process.argv[0], join(ROOT, 'dist', 'bench', 'soak', 'cli.js'), ...process.argv.slice(2)];
await import(pathToFileURL(process.argv[1]).href);

const [open, pooled, inUse, created] = load.addon.stats();
process.stderr.write(`soak-native: addon totals: ${open} open, ${created} pipes created, ${pooled} pooled, ${inUse} in use\n`);
if (created === 0) fail('the addon created no pipe: the soak did not relay through the native data plane');
if (open !== 0 || inUse !== 0) fail(`the addon still holds ${open} connection(s) and ${inUse} pipe(s) after the soak`);
