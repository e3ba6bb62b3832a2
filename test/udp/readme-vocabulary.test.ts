/** The README names exactly the UDP drop reasons the metric can carry and the reasons a flow's close line can give. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from '../helpers/interop.js';
import { FLOW_END_REASONS, UDP_DROP_REASONS } from '../../src/udp/flow-table.js';
import { UDP_FLOW_CLOSE_REASONS } from '../../src/observe/close-line.js';
import { readmeCloseReasons } from '../observe/close-reasons-readme.js';

const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
const ticked = (text: string): string[] => [...text.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).sort();

it('README: the reasons of portplex_udp_datagrams_dropped_total are UDP_DROP_REASONS', () => {
  const row = /^\| `portplex_udp_datagrams_dropped_total` \| counter \| `reason` \|([^|]*)\|$/m.exec(readme);
  assert.ok(row, 'the metrics table has the row');
  assert.deepEqual(ticked(row[1]!), [...UDP_DROP_REASONS].sort());
});

it("README: the reasons of a UDP flow's close line are the table's and the flow's own", () => {
  const udp = readmeCloseReasons().filter((r) => r.transports.includes('udp'));
  assert.ok(udp.length > 0, 'the Logs section lists the flow close reasons');
  const expected = [...FLOW_END_REASONS.filter((r) => r !== 'ended'), ...UDP_FLOW_CLOSE_REASONS].sort();
  assert.deepEqual(udp.map((r) => r.reason).sort(), expected);
});
