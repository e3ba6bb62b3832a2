/**
 * The status page: one small HTML document from a StatusView, with inline CSS only (no scripts,
 * no external assets: it works air-gapped and under a strict Content-Security-Policy), reloading
 * itself every admin.status_refresh. Problems stand out: a down server and a failed reload are
 * red, in words as well as in colour, and summarised at the top.
 */
import { Html, html } from './html.js';
import type { BackendView, ServerView, StatusView } from './status-view.js';

const CSS = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1f2328;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.2em 0}th,td{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-family:ui-monospace,monospace}
.badge{display:inline-block;padding:.1em .5em;border-radius:.3em;font-weight:600}
.up{background:#dafbe1;color:#116329}.down{background:#ffebe9;color:#a40e26}.unknown{background:#eaeef2;color:#57606a}
tr.down td{background:#fff5f5}
.alert{border:2px solid #cf222e;background:#ffebe9;color:#82071e;padding:.6em .8em;margin:.6em 0;border-radius:.4em;font-weight:600}
.warn{border:1px solid #bf8700;background:#fff8c5;padding:.4em .8em;margin:.4em 0;border-radius:.4em}
.muted{color:#57606a}`;

/** The page's own constant CSS: trusted markup, it holds no dynamic text. */
const STYLE = new Html(CSS);

function stateBadge(state: ServerView['state']): Html {
  return html`<span class="badge ${state}">${state}</span>`;
}

function serverRow(s: ServerView): Html {
  const workers = s.workers === 0 ? 'no worker reported' : `up in ${s.upWorkers} of ${s.workers} worker${s.workers === 1 ? '' : 's'}`;
  return html`<tr class="${s.state === 'down' ? 'down' : ''}"><td><code>${s.address}</code></td><td>${s.backup ? 'backup' : 'primary'}</td><td>${stateBadge(s.state)}</td><td>${workers}</td><td class="n">${s.active}</td><td class="n">${s.weight}</td></tr>`;
}

function backendSection(b: BackendView): Html {
  const allUp = b.serversUp === b.servers.length;
  return html`<h3 id="backend-${b.name}">${b.name} <span class="badge ${allUp ? 'up' : 'down'}">${b.serversUp} of ${b.servers.length} up</span></h3>
<p class="muted">balance ${b.balance}; health: ${b.checks}</p>
<table><tr><th>server</th><th>role</th><th>state</th><th>workers</th><th>active</th><th>weight</th></tr>${b.servers.map(serverRow)}</table>`;
}

function alerts(v: StatusView): Html {
  const down = v.backends.flatMap((b) => b.servers.filter((s) => s.state === 'down').map((s) => `${b.name} ${s.address}`));
  return html`${v.ready ? '' : html`<div class="alert" id="not-ready">Not ready: ${v.notReadyReasons.join('; ')}</div>`}
${v.reload.result === 'failed' ? html`<div class="alert" id="reload-failed">The last rule reload FAILED (${v.reload.lastAt ?? ''}); still running the rules loaded ${v.rules.loadedAt}: ${v.reload.lastError ?? ''}</div>` : ''}
${down.length > 0 ? html`<div class="alert" id="servers-down">${down.length} server${down.length === 1 ? '' : 's'} down: ${down.join(', ')}</div>` : ''}
${v.rules.warnings.map((w) => html`<div class="warn">warning: ${w}</div>`)}`;
}

export function renderStatusPage(v: StatusView): string {
  const reload =
    v.reload.result === 'none'
      ? 'no reload since start'
      : html`last reload ${v.reload.lastAt ?? ''}: <span class="badge ${v.reload.result === 'ok' ? 'up' : 'down'}">${v.reload.result === 'ok' ? 'ok' : 'failed'}</span> (${v.reload.ok} ok, ${v.reload.failed} failed)`;
  const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="${v.refreshSeconds}">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>portplex status</title><style>${STYLE}</style></head>
<body>
<h1>portplex <span class="badge ${v.ready ? 'up' : 'down'}" id="readiness">${v.ready ? 'ready' : 'not ready'}</span></h1>
${alerts(v)}
<p>Rules: <code>${v.rules.source}</code>, loaded ${v.rules.loadedAt}; ${reload}.<br>
Workers: ${v.workers.listening} of ${v.workers.wanted} listening, ${v.workers.restarts} restarted, ${v.workers.reporting} in these counts.</p>

<h2>Listeners</h2>
<table><tr><th>name</th><th>address</th><th>PROXY accept</th><th>open connections</th></tr>
${v.listeners.map((l) => html`<tr><td>${l.name}</td><td><code>${l.address}</code></td><td>${l.proxyProtocol}</td><td class="n">${l.open}</td></tr>`)}</table>

<h2>Routes</h2>
<table id="routes"><tr><th>#</th><th>route</th><th>when</th><th>to</th><th>hits</th></tr>
${v.routes.map((r) => html`<tr><td class="n">${r.position}</td><td>${r.name}</td><td>${r.when}</td><td>${r.action === 'backend' ? html`backend <a href="#backend-${r.target}">${r.target}</a>` : html`${r.action}: ${r.target}`}</td><td class="n">${r.hits}</td></tr>`)}
${v.defaultBackend === undefined ? '' : html`<tr><td></td><td><em>default</em></td><td>no route matched</td><td>backend <a href="#backend-${v.defaultBackend.name}">${v.defaultBackend.name}</a></td><td class="n">${v.defaultBackend.hits ?? 'n/a'}</td></tr>`}
<tr><td></td><td><em>none</em></td><td>closed before a route was chosen (no route, refused, client gone)</td><td></td><td class="n">${v.unrouted}</td></tr></table>
<p class="muted">Hits count closed connections.</p>

<h2>Backends</h2>
${v.backends.map(backendSection)}
${v.denials.length === 0 ? '' : html`<h2>Refusals and denials</h2><table><tr><th>kind</th><th>route</th><th>reason</th><th>count</th></tr>${v.denials.map((d) => html`<tr><td>${d.kind}</td><td>${d.route}</td><td>${d.reason}</td><td class="n">${d.count}</td></tr>`)}</table>`}

<p class="muted">Generated ${v.generatedAt}; reloads every ${v.refreshSeconds}s. <a href="/metrics">/metrics</a> <a href="/status.json">/status.json</a> <a href="/readyz">/readyz</a></p>
</body></html>
`;
  return page.text;
}
