/**
 * npm run soak: `node --expose-gc dist/bench/soak/cli.js [--minutes N | --seconds N] [--concurrency N]
 * [--seed N] [--settle-ms N] [--warmup-ms N] [--heap-slack-mb N] [--quiet]`. Prints the report as JSON on stdout,
 * progress on stderr, and exits 1 when any check failed (2 on bad arguments or a crash of the soak itself).
 */
import { runSoak } from './soak.js';

function usage(msg: string): never {
  process.stderr.write(`soak: ${msg}\nusage: node --expose-gc dist/bench/soak/cli.js [--minutes N | --seconds N] [--concurrency N] [--seed N] [--settle-ms N] [--warmup-ms N] [--heap-slack-mb N] [--quiet]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let durationMs = 3 * 60_000;
let concurrency = 64;
let seed = 1;
let settleMs = 2000;
let heapSlackMb = 10;
let warmupMs: number | undefined;
let quiet = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const num = (): number => {
    const v = Number(args[++i]);
    if (!Number.isFinite(v) || v < 0) usage(`${a} needs a non-negative number`);
    return v;
  };
  if (a === '--minutes') durationMs = num() * 60_000;
  else if (a === '--seconds') durationMs = num() * 1000;
  else if (a === '--concurrency') concurrency = Math.max(1, Math.floor(num()));
  else if (a === '--seed') seed = Math.floor(num());
  else if (a === '--settle-ms') settleMs = num();
  else if (a === '--heap-slack-mb') heapSlackMb = num();
  else if (a === '--warmup-ms') warmupMs = num();
  else if (a === '--quiet') quiet = true;
  else usage(`unknown argument ${a}`);
}
if (durationMs > 60 * 60_000) usage('at most 60 minutes');

// A hard stop in case anything hangs: the load, the drain bound (30 s), the settle and a margin.
const hardStop = setTimeout(() => {
  process.stderr.write('soak: hard time limit reached, aborting\n');
  process.exit(3);
}, durationMs + 120_000);
hardStop.unref();

try {
  const report = await runSoak({
    durationMs,
    concurrency,
    seed,
    settleMs,
    heapSlackBytes: heapSlackMb * 1024 * 1024,
    ...(warmupMs !== undefined ? { warmupMs } : {}),
    log: quiet ? undefined : (line) => process.stderr.write(`soak: ${line}\n`),
  });
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  if (!quiet) process.stderr.write(report.ok ? 'soak: all checks passed\n' : `soak: FAILED:\n  ${report.failedChecks.join('\n  ')}\n`);
  process.exitCode = report.ok ? 0 : 1;
} catch (e) {
  process.stderr.write(`soak: crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 2;
}
// Nothing should be left running, but the soak must stop by itself regardless.
setTimeout(() => process.exit(), 2000).unref();
