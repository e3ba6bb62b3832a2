/** renderStatusPage: one self-contained HTML page; every dynamic string escaped; problems stand out. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderStatusPage } from '../../src/admin/status-page.js';
import { buildStatusView, type StatusView } from '../../src/admin/status-view.js';
import { escapeHtml, html } from '../../src/admin/html.js';
import { ADMIN_RULES, adminState, compileOrFail, standardScene } from '../helpers/admin.js';

const rules = compileOrFail(ADMIN_RULES);

async function scenePage(over: Parameters<typeof adminState>[1] = {}): Promise<string> {
  return renderStatusPage(buildStatusView(adminState(rules, over), await standardScene(rules).registry.getMetricsAsJSON()));
}

describe('renderStatusPage', () => {
  it('is one HTML page with inline CSS, no scripts, no external assets, refreshing every status_refresh', async () => {
    const page = await scenePage();
    assert.match(page, /^<!doctype html>/);
    assert.match(page, /<meta http-equiv="refresh" content="7">/);
    assert.match(page, /<style>[^<]+<\/style>/);
    assert.doesNotMatch(page, /<script|<link|<img|src=|@import|url\(/i);
    assert.doesNotMatch(page, /https?:\/\//, 'no absolute URLs: the page loads nothing');
  });

  it('shows routes with hits, backends, and server state as words and colour classes', async () => {
    const page = await scenePage();
    assert.match(page, /<td>https<\/td><td>SNI demo\.test, \*\.demo\.test<\/td><td>backend <a href="#backend-web">web<\/a><\/td><td class="n">3<\/td>/);
    assert.match(page, /<tr class="down"><td><code>127\.0\.0\.1:4444<\/code><\/td><td>backup<\/td><td><span class="badge down">down<\/span><\/td><td>up in 0 of 1 worker<\/td>/);
    assert.match(page, /<tr class=""><td><code>127\.0\.0\.1:4443<\/code><\/td><td>primary<\/td><td><span class="badge up">up<\/span><\/td><td>up in 1 of 1 worker<\/td><td class="n">2<\/td>/);
    assert.match(page, /<div class="alert" id="servers-down">1 server down: web 127\.0\.0\.1:4444<\/div>/);
    assert.match(page, /\.down\{background:#ffebe9;color:#a40e26\}/);
  });

  it('makes a failed reload and not being ready stand out', async () => {
    const page = await scenePage({ reloads: { ok: 1, failed: 1, lastError: 'rules.yaml:4:3: PORTPLEX_ERR_RULES_INVALID: unknown key', lastAt: new Date('2026-11-22T20:30:00Z') }, draining: true });
    assert.match(page, /<div class="alert" id="reload-failed">The last rule reload FAILED \(2026-11-22T20:30:00\.000Z\); still running the rules loaded 2026-11-22T20:00:00\.000Z: rules\.yaml:4:3: PORTPLEX_ERR_RULES_INVALID: unknown key<\/div>/);
    assert.match(page, /<div class="alert" id="not-ready">Not ready: draining/);
    assert.match(page, /<span class="badge down" id="readiness">not ready<\/span>/);
    const fine = await scenePage({ reloads: { ok: 1, failed: 0, lastError: undefined, lastAt: new Date() } });
    assert.doesNotMatch(fine, /id="reload-failed"|id="not-ready"/);
    assert.match(fine, /<span class="badge up" id="readiness">ready<\/span>/);
  });

  it('escapes every dynamic string: markup in a route name, a server address, a summary or an error comes out inert', async () => {
    const evil = '<script>alert(1)</script>';
    const base = buildStatusView(adminState(rules), await standardScene(rules).registry.getMetricsAsJSON());
    const v: StatusView = {
      ...base,
      rules: { ...base.rules, source: `/etc/${evil}`, warnings: [`w ${evil}`] },
      reload: { result: 'failed', ok: 0, failed: 1, lastAt: evil, lastError: `"'><img src=x onerror=alert(1)>${evil}` },
      notReadyReasons: [evil],
      ready: false,
      listeners: [{ name: evil, address: evil, proxyProtocol: 'off', open: 0 }],
      routes: [{ position: 1, name: evil, action: 'backend', target: `" onmouseover="alert(1)`, when: evil, hits: 1 }],
      defaultBackend: { name: evil, hits: 0 },
      backends: [{ name: evil, balance: 'roundrobin', checks: evil, serversUp: 0, servers: [{ address: evil, backup: false, weight: 1, state: 'down', upWorkers: 0, workers: 1, active: 0 }] }],
      denials: [{ kind: evil, route: evil, reason: evil, count: 1 }],
    };
    const page = renderStatusPage(v);
    assert.doesNotMatch(page, /<script/i);
    assert.doesNotMatch(page, /<img/i);
    assert.doesNotMatch(page, /" onmouseover=/);
    assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(page.includes('href="#backend-&quot; onmouseover=&quot;alert(1)"'));
    // 14 places above carry the payload; each must appear escaped.
    assert.ok(page.split('&lt;script&gt;').length - 1 >= 14, 'every field rendered, escaped');
  });

  it('escapes markup that a real rule file can carry: a regex SNI pattern', async () => {
    const r = compileOrFail(ADMIN_RULES.replace('sni: ["demo.test", "*.demo.test"]', 'sni: ["~^<script>alert(1)</script>$"]'));
    const page = renderStatusPage(buildStatusView(adminState(r), []));
    assert.doesNotMatch(page, /<script/i);
    assert.ok(page.includes('<td>SNI ~^&lt;script&gt;alert(1)&lt;/script&gt;$</td>'));
  });
});

describe('html``', () => {
  it('escapes interpolations, nests html values as they are, and drops undefined/false', () => {
    assert.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;');
    assert.equal(html`<b>${'<i>'}</b>${html`<i>${'&'}</i>`}${undefined}${false}${[1, html`<br>`]}`.text, '<b>&lt;i&gt;</b><i>&amp;</i>1<br>');
  });
});
