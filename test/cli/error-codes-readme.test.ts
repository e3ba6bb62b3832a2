/** The README's error table lists exactly the codes portplex can print, and each says what to do. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../src/errors.js';
import { REPO_ROOT } from '../helpers/interop.js';

it('README: every error code is in the error table, and nothing else is', () => {
  const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('\n## Error codes'), readme.indexOf('\n## ', readme.indexOf('\n## Error codes') + 1));
  const documented = [...section.matchAll(/^\| `(PORTPLEX_ERR_[A-Z_]+)` \| (.+) \|$/gm)];
  assert.deepEqual(documented.map((m) => m[1]).sort(), Object.keys(ERROR_CODES).sort());
  for (const m of documented) assert.ok(m[2]!.length > 40, `${m[1]} says what to do`);
});
