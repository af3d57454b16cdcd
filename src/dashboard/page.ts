/**
 * The live dashboard: one self-contained page (no build step, no CDN) served at `/`. It reads the `/v1`
 * endpoints every two seconds and shows the telemetry stream from `/v1/events` as it comes.
 */
const STYLE = `
body{font:14px system-ui,sans-serif;margin:0;background:#0f1419;color:#e6e6e6}
header{padding:12px 20px;background:#1a2029;display:flex;gap:16px;align-items:baseline}
h1{font-size:18px;margin:0}h2{font-size:14px;margin:0 0 8px;color:#9fb3c8;text-transform:uppercase;letter-spacing:.05em}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:12px;padding:12px}
section{background:#1a2029;border-radius:6px;padding:12px;overflow:auto;max-height:340px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:2px 6px;border-bottom:1px solid #2a323d}
.healthy,.up,.completed,.closed{color:#6fcf97}.degraded,.suspect,.half_open,.waiting,.running{color:#f2c94c}
.unhealthy,.down,.failed,.open{color:#eb5757}#events{font:12px monospace;white-space:pre-wrap}`;

const SCRIPT = `
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? '-').replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);
const cell = (v) => '<td class="' + esc(v) + '">' + esc(v) + '</td>';
const rows = (list, cols) => list.length === 0 ? '<tr><td>none</td></tr>' :
  list.map((x) => '<tr>' + cols.map((c) => cell(typeof c === 'function' ? c(x) : x[c])).join('') + '</tr>').join('');
async function get(path) { const r = await fetch(path); if (!r.ok) throw new Error(path + ' ' + r.status); return r.json(); }
async function refresh() {
  try {
    const [health, nodes, wf, agents, breakers, dead, timers, res] = await Promise.all([
      get('/v1/health'), get('/v1/nodes'), get('/v1/workflows?limit=200'), get('/v1/agents'),
      get('/v1/breakers'), get('/v1/dead-letters?limit=50'), get('/v1/timers'), get('/v1/resources')]);
    $('resources').innerHTML = rows(res.resources, ['kind', 'current', 'limit', (u) => Math.round(u.ratio * 100) + '%']);
    $('checks').innerHTML = rows(health.health.checks, ['name', 'status', (c) => c.reason]);
    $('health').textContent = health.health.status; $('health').className = health.health.status;
    $('nodes').innerHTML = rows(nodes.nodes, ['id', 'state', (n) => new Date(n.heartbeatAt).toLocaleTimeString()]);
    const by = {}; for (const w of wf.workflows) by[w.status] = (by[w.status] || 0) + 1;
    $('wfcounts').textContent = Object.entries(by).map(([k, n]) => k + ' ' + n).join('  ') || 'none';
    $('workflows').innerHTML = rows(wf.workflows.slice(0, 30), ['id', 'name', 'status']);
    $('agents').innerHTML = rows(agents.agents, ['id', (a) => a.capabilities.join(','), 'health', 'node']);
    $('breakers').innerHTML = rows(breakers.breakers, ['service', 'state', (b) => b.totals.failures]);
    $('dead').innerHTML = rows(dead.deadLetters, ['id', 'queue', 'lastError']);
    $('timers').innerHTML = rows(timers.timers, ['id', 'kind', 'topic', (t) => new Date(t.dueAt).toLocaleTimeString()]);
    $('updated').textContent = new Date().toLocaleTimeString();
  } catch (e) { $('updated').textContent = 'error: ' + e.message; }
}
const lines = [];
const events = new EventSource('/v1/events');
const show = (e) => { lines.unshift(e.type + ' ' + e.data.slice(0, 160)); lines.length = Math.min(lines.length, 60); $('events').textContent = lines.join('\\n'); };
for (const type of ['process.restarted', 'process.exited', 'agent.health_changed', 'breaker.transition', 'health.changed', 'delivery.dead_lettered', 'workflow.finished', 'task.finished'])
  events.addEventListener(type, show);
refresh(); setInterval(refresh, 2000);`;

export function dashboardPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Garrison</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head><body>
<header><h1>Garrison</h1><span>health: <b id="health">…</b></span><span>workflows: <b id="wfcounts">…</b></span><small id="updated"></small></header>
<main>
<section><h2>Nodes</h2><table id="nodes"></table></section>
<section><h2>Health checks</h2><table id="checks"></table></section>
<section><h2>Resources</h2><table id="resources"></table></section>
<section><h2>Agents</h2><table id="agents"></table></section>
<section><h2>Workflows</h2><table id="workflows"></table></section>
<section><h2>Circuit breakers</h2><table id="breakers"></table></section>
<section><h2>Dead letters</h2><table id="dead"></table></section>
<section><h2>Timers</h2><table id="timers"></table></section>
<section><h2>Events</h2><div id="events"></div></section>
</main><script>${SCRIPT}</script></body></html>`;
}
