/** The descriptor limit read from /proc/self/limits, and the share of it UDP flows may take. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_OPEN_FILES, parseOpenFilesLimit, readOpenFilesLimit, udpFlowBudget } from '../../src/udp/fd-budget.js';

/** As Linux 6.x prints it (fs/proc/base.c). */
const LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max processes             96362                96362                processes 
Max open files            1024                 524288               files     
Max locked memory         8388608              8388608              bytes     
`;

it('parses the soft and hard "Max open files" limits', () => {
  assert.deepEqual(parseOpenFilesLimit(LIMITS), { kind: 'ok', value: { soft: 1024, hard: 524288 }, length: LIMITS.length });
  const unlimited = LIMITS.replace('1024                 524288', 'unlimited            unlimited');
  const r = parseOpenFilesLimit(unlimited);
  assert.equal(r.kind === 'ok' && r.value.soft, Infinity);
});

it('refuses text without a readable row, never throws', () => {
  for (const text of ['', 'Max open files\n', LIMITS.replace('Max open files', 'Max open filez'), LIMITS.replace('1024 ', '-1   '), LIMITS.replace('1024 ', '1e3  '), LIMITS.replace('1024 ', '10241024102410241024 '), 'Max open files            1024\n']) {
    assert.equal(parseOpenFilesLimit(text).kind, 'invalid', JSON.stringify(text));
  }
});

it("reads this process's limit, and falls back where there is none", () => {
  const own = parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  assert.equal(own.kind, 'ok');
  assert.equal(readOpenFilesLimit(), own.kind === 'ok' ? own.value.soft : -1);
  assert.equal(readOpenFilesLimit('/nonexistent/limits'), DEFAULT_OPEN_FILES);
  const dir = mkdtempSync(join(tmpdir(), 'portplex-limits-'));
  try {
    writeFileSync(join(dir, 'limits'), 'nothing useful\n');
    assert.equal(readOpenFilesLimit(join(dir, 'limits')), DEFAULT_OPEN_FILES);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

it('UDP gets a quarter after the reserve, or what max_connections leaves unused', () => {
  assert.equal(udpFlowBudget(128, 20_000, 2), 15); // (128 - 64 - 2) / 4
  assert.equal(udpFlowBudget(1024, 20_000, 2), 239);
  assert.equal(udpFlowBudget(1_048_576, 20_000, 2), 1_048_576 - 64 - 2 - 40_000);
  assert.equal(udpFlowBudget(1024, 100, 2), 1024 - 64 - 2 - 200, 'TCP cannot use more than 2 x max_connections');
  assert.equal(udpFlowBudget(64, 20_000, 2), 0, 'nothing left: no UDP flow at all rather than a TCP connection less');
  assert.equal(udpFlowBudget(Infinity, 20_000, 2), Infinity);
});
