/**
 * The status page in a real browser: headless Chromium loads / from a running admin endpoint
 * (a compiled rule file, a real PortplexMetrics fed connection records, one server down) and the
 * rendered DOM must show the routes with their hit counts and the servers up and down; a
 * screenshot proves it rendered. Markup in a rule (a regex SNI pattern) must stay text.
 *
 * Skipped when chromium is absent (Debian package "chromium"), a failure under CI=true.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startAdminServer } from '../../src/admin/server.js';
import { compileRulesText } from '../../src/config/load.js';
import { PortplexMetrics } from '../../src/observe/metrics.js';
import { LogCapture } from '../helpers/net.js';
import { chromiumBaseArgs, describeExit, makeTempDir, requireTool, spawnBounded } from '../helpers/interop.js';
import { ADMIN_RULES, adminState, metricsSource, record, snapshots } from '../helpers/admin.js';

/** A route whose regex SNI pattern is markup that would change the title if it ever ran. */
const RULES = ADMIN_RULES.replace('sni: ["demo.test", "*.demo.test"]', `sni: ["demo.test", "~^<img src=x onerror=document.title='pwned'>$"]`);

function chromiumArgs(profile: string): string[] {
  return [...chromiumBaseArgs(profile), '--disable-quic', '--virtual-time-budget=3000'];
}

async function runChromium(t: TestContext, chromium: string, args: string[], what: string): Promise<string> {
  const p = spawnBounded(t, chromium, args, { name: 'chromium', lifetimeMs: 90_000 });
  const exit = await p.exited;
  assert.equal(exit.code, 0, `chromium (${what}) ${describeExit(exit)}:\n${p.stderr().slice(-4000)}`);
  return p.stdout();
}

/** Text as the browser shows it: the serialized DOM writes <, > and & in text as entities. */
function decode(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** The text of each table row of the rendered DOM (cells separated by "|"), tags dropped. */
function rows(dom: string): string[] {
  return [...dom.matchAll(/<tr\b[^>]*>([\s\S]*?)<\/tr>/g)].map((m) =>
    m[1]!
      .split(/<\/t[dh]>/)
      .map((c) => decode(c.replace(/<[^>]+>/g, '')).trim())
      .filter((c, i, all) => i < all.length - 1 || c !== '')
      .join('|'),
  );
}

describe('status page in headless Chromium', () => {
  it('renders routes with hit counts and servers up/down, keeps rule markup inert, and paints a screenshot', async (t) => {
    const chromium = requireTool(t, 'chromium');
    if (chromium === undefined) return;

    const loaded = compileRulesText(RULES, 'chromium-test.yaml');
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.issues.map((i) => i.message).join('\n'));
    const rules = loaded.rules;
    const metrics = new PortplexMetrics();
    for (let i = 0; i < 12; i++) metrics.connectionClosed(record({ route: 'https', backend: 'web', server: '127.0.0.1:4443', bytesFromClient: 700, bytesToClient: 1800, decideMs: 0.6, peeked: 517 }));
    for (let i = 0; i < 5; i++) metrics.connectionClosed(record({ route: 'ssh', backend: 'ssh', server: '127.0.0.1:2222', decideMs: 1.2, peeked: 21 }));
    metrics.connectionClosed(record({ route: 'tunnel', reason: 'tunnel-denied', decideMs: 2, peeked: 80 }));
    metrics.connectionClosed(record({ route: 'default', backend: 'other', server: '127.0.0.1:2323', decideMs: 3000, peeked: 3 }));
    metrics.setSources({
      backends: () => snapshots(rules, new Set(['web 127.0.0.1:4444']), new Map([['web 127.0.0.1:4443', 4]])),
      openByListener: () => new Map([['main', 4]]),
      limitRefusals: () => new Map(),
      denials: () => new Map([['tunnel/port-not-allowed', 1]]),
    });

    const admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, metricsSource(metrics, () => adminState(rules)), new LogCapture().logger);
    t.after(() => admin.close());
    const url = `http://127.0.0.1:${admin.address.port}/`;
    const dir = makeTempDir(t, 'portplex-chromium-');

    const dom = await runChromium(t, chromium, [...chromiumArgs(join(dir, 'profile-dom')), '--dump-dom', url], '--dump-dom');
    assert.match(dom, /<title>portplex status<\/title>/, 'the title is unchanged: the onerror in the rule never ran');
    assert.doesNotMatch(dom, /<img/i, 'the markup in the SNI pattern is text, not an element');
    const table = rows(dom);
    assert.ok(table.includes(`1|https|SNI demo.test, ~^<img src=x onerror=document.title='pwned'>$|backend web|12`), table.join('\n'));
    assert.ok(table.includes('2|ssh|protocol ssh|backend ssh|5'), table.join('\n'));
    assert.ok(table.includes('3|tunnel|method CONNECT|connect: CONNECT tunnels to port 443, 8000-8100|1'), table.join('\n'));
    assert.ok(table.includes('|default|no route matched|backend other|1'), table.join('\n'));
    assert.ok(table.includes('127.0.0.1:4443|primary|up|up in 1 of 1 worker|4|1'), table.join('\n'));
    assert.ok(table.includes('127.0.0.1:4444|backup|down|up in 0 of 1 worker|0|1'), table.join('\n'));
    assert.ok(table.includes('127.0.0.1:2222|primary|up|up in 1 of 1 worker|0|1'), table.join('\n'));
    assert.match(dom, /<div class="alert" id="servers-down">1 server down: web 127\.0\.0\.1:4444<\/div>/);
    assert.match(dom, /<tr class="down"><td><code>127\.0\.0\.1:4444<\/code>/);

    const png = join(dir, 'status.png');
    const out = await runChromium(t, chromium, [...chromiumArgs(join(dir, 'profile-shot')), `--screenshot=${png}`, '--window-size=1280,1600', url], '--screenshot');
    const bytes = readFileSync(png);
    assert.ok(statSync(png).size > 1000, `a real screenshot, not an empty file (${bytes.length} bytes; chromium said: ${out.trim()})`);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
    assert.deepEqual([bytes.readUInt32BE(16), bytes.readUInt32BE(20)], [1280, 1600], 'the IHDR size is the window size');
  });
});
