/**
 * The short soak for `npm test`: the soak CLI in a child process (its own heap and descriptor
 * table, and --expose-gc, which node --test does not give its test files), a few seconds of the
 * full mix at concurrency 32, then the same checks as `npm run soak`. SOAK_SEED picks another seed.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SoakReport } from '../../bench/soak/soak.js';

const CLI = fileURLToPath(new URL('../../bench/soak/cli.js', import.meta.url));

it('short soak: a mix of good, broken and hostile connections leaves no leak, no crash and no corrupted byte', { timeout: 60_000 }, async () => {
  const seed = process.env.SOAK_SEED ?? '1';
  const args = ['--expose-gc', CLI, '--seconds', '5', '--warmup-ms', '800', '--settle-ms', '1500', '--concurrency', '32', '--seed', seed, '--quiet'];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, args, { timeout: 50_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
  let report: SoakReport | undefined;
  try {
    report = JSON.parse(stdout) as SoakReport;
  } catch {
    assert.fail(`soak (seed ${seed}) printed no report; exit ${code}; stderr:\n${stderr}`);
  }
  const k = report.connections.byKind;
  process.stderr.write(
    `soak seed ${seed}: ${report.connections.total} connections (${report.wellFormed.ok}/${report.wellFormed.total} well-formed exact, ` +
      `${Object.entries(k).map(([n, s]) => `${n} ${s.started}`).join(', ')}); fds ${report.resources.baseline.fds} -> ${report.resources.final.fds}, ` +
      `heap ${(report.resources.baseline.heapUsed / 1048576).toFixed(1)} -> ${(report.resources.final.heapUsed / 1048576).toFixed(1)} MiB\n`,
  );
  assert.deepEqual(report.failedChecks, [], `soak (seed ${seed}) failed; samples:\n${report.samples.join('\n')}`);
  assert.equal(code, 0, stderr);
  assert.equal(report.ok, true);
  // The mix really ran: every kind happened, and the well-formed ones moved real bytes.
  for (const [name, s] of Object.entries(k)) assert.ok(s.started > 0, `kind ${name} never ran`);
  assert.ok(report.wellFormed.ok >= 100, `only ${report.wellFormed.ok} well-formed connections`);
  assert.equal(report.uncaught.exceptions + report.uncaught.rejections, 0);
});
