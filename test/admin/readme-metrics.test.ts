/** The README's metrics table lists exactly the metrics /metrics exposes, each with the labels it has. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { primaryMetrics } from '../../src/admin/primary-metrics.js';
import { REPO_ROOT } from '../helpers/interop.js';
import { ADMIN_RULES, adminState, compileOrFail, standardScene } from '../helpers/admin.js';

it('README: every exposed metric is documented with its labels, and nothing else is', async () => {
  const rules = compileOrFail(ADMIN_RULES);
  const json = [...(await standardScene(rules).registry.getMetricsAsJSON()), ...(await primaryMetrics(adminState(rules)).getMetricsAsJSON())];
  const exposed = new Map(json.map((m) => [m.name, [...new Set(m.values.flatMap((v) => Object.keys(v.labels)).filter((l) => l !== 'le'))].sort()]));
  const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
  const documented = new Map(
    [...readme.matchAll(/^\| `(portplex_[a-z_]+)` \| (counter|gauge|histogram) \|([^|]*)\|/gm)].map((m) => [m[1]!, [...m[3]!.matchAll(/`([a-z_]+)`/g)].map((x) => x[1]!).sort()]),
  );
  assert.deepEqual(documented, exposed);
  for (const m of json) assert.match(readme, new RegExp(`\\| \`${m.name}\` \\| ${m.type} \\|`), `${m.name} is documented as a ${m.type}`);
});
