/** The README names exactly the UDP drop reasons the metric can carry and the reasons a flow's close line can give. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from '../helpers/interop.js';
import { FLOW_END_REASONS, UDP_DROP_REASONS } from '../../src/udp/flow-table.js';
import { FLOW_OWN_END_REASONS } from '../../src/udp/flow.js';

const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
const ticked = (text: string): string[] => [...text.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]!).sort();

it('README: the reasons of portplex_udp_datagrams_dropped_total are UDP_DROP_REASONS', () => {
  const row = /^\| `portplex_udp_datagrams_dropped_total` \| counter \| `reason` \|([^|]*)\|$/m.exec(readme);
  assert.ok(row, 'the metrics table has the row');
  assert.deepEqual(ticked(row[1]!), [...UDP_DROP_REASONS].sort());
});

it("README: the reasons of a UDP flow's close line are the table's and the flow's own", () => {
  const text = /A UDP flow has one line too[\s\S]*?and `reason`: ([\s\S]*?)\.\n/.exec(readme);
  assert.ok(text, 'the Logs section describes the flow close line');
  const expected = [...FLOW_END_REASONS.filter((r) => r !== 'ended'), ...FLOW_OWN_END_REASONS].sort();
  assert.deepEqual(ticked(text[1]!), expected);
});
