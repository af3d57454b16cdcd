/**
 * The live dashboard: one self-contained page (no build step, no CDN) served at `/`. Its script reads
 * the `/v1` endpoints every two seconds, and at once when an event arrives on `/v1/events` (read with
 * fetch, so the bearer token goes in a header and never in a URL). When the API needs a token, the page
 * asks for it once and keeps it in session storage. The script runs in the browser, so its timers are
 * the browser's own. Its requests that change state say `Content-Type: application/json` (the API refuses
 * any other); the page's policy allows this one inline script by its SHA-256 (`DASHBOARD_SCRIPT_SHA256`).
 */
import { createHash } from 'node:crypto';
import { STYLE } from './style.js';

/** The endpoints the page reads or calls (a test checks each is a route of the API). */
export const DASHBOARD_ENDPOINTS = [
  'GET /v1/health',
  'GET /v1/nodes',
  'GET /v1/metrics/summary',
  'GET /v1/workflows',
  'GET /v1/workflows/:id',
  'POST /v1/workflows/:id/signal',
  'GET /v1/ai/usage',
  'GET /v1/agents',
  'POST /v1/agents/:id/pause',
  'POST /v1/agents/:id/resume',
  'POST /v1/agents/:id/stop',
  'GET /v1/breakers',
  'POST /v1/breakers/:service/reset',
  'GET /v1/dead-letters',
  'GET /v1/queues/waiting',
  'POST /v1/dead-letters/retry',
  'GET /v1/timers',
  'GET /v1/coordination/locks',
  'GET /v1/coordination/leaders',
  'GET /v1/coordination/pools',
  'GET /v1/events',
] as const;

const SCRIPT = String.raw`
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? '-').replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '-');
const duration = (ms) => (ms === undefined || ms === null ? '-' : ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(2) + ' s');
const enc = encodeURIComponent;
let token = sessionStorage.getItem('garrison.token') || '';
let shownRun = '';
const history = [];

async function api(path, init) {
  const headers = token ? { authorization: 'Bearer ' + token } : {};
  if (init && init.method && init.method !== 'GET') headers['content-type'] = 'application/json';
  const r = await fetch(path, { ...init, headers });
  if (r.status === 401) { $('login').hidden = false; throw new Error('a token is needed'); }
  if (r.status === 404 && (!init || !init.method)) return undefined;
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.code + ': ' + body.error.message : path + ' ' + r.status);
  return body;
}

/** Rows of a table: columns are [heading, value of a row, optional class of a row]. */
function table(id, list, columns, pick) {
  const head = '<tr>' + columns.map((c) => '<th>' + esc(c[0]) + '</th>').join('') + '</tr>';
  const rows = list.map((x) => '<tr' + (pick ? ' class="pick" data-pick="' + esc(pick(x)) + '"' : '') + '>' +
    columns.map((c) => { const v = c[1](x); return '<td class="' + esc(c[2] ? c[2](x) : v) + '">' + (c[3] ? v : esc(v)) + '</td>'; }).join('') + '</tr>');
  $(id).innerHTML = head + (rows.length ? rows.join('') : '<tr><td>none</td></tr>');
}
const more = (id, list, next) => { $(id).textContent = next ? 'showing ' + list.length + ' of more' : ''; };
const button = (label, action, arg) => '<button data-action="' + action + '" data-arg="' + esc(arg) + '">' + label + '</button>';

function spark(points) {
  const max = Math.max(1, ...points);
  const xy = points.map((v, i) => (i * 300 / Math.max(1, points.length - 1)).toFixed(1) + ',' + (58 - v * 56 / max).toFixed(1));
  return '<svg viewBox="0 0 300 60" preserveAspectRatio="none"><polyline fill="none" stroke="#6fcf97" points="' + xy.join(' ') + '"/></svg>';
}

/** The queues table: each queue's counts and, when nothing consumes it, why its tasks wait. */
function showQueues(s, waiting) {
  const waits = new Map((waiting ? waiting.queues.concat(waiting.capabilities) : []).map((w) => [w.queue, w]));
  const queues = Object.entries(s.byQueue).map(([name, q]) => ({ name, ...q, wait: waits.get(name) }));
  table('queues', queues, [['queue', (q) => q.name], ['queued', (q) => q.queued], ['running', (q) => q.running], ['dead', (q) => q.dead, (q) => (q.dead ? 'dead' : '')],
    ['waits', (q) => (q.wait ? q.wait.reason + ' (' + q.wait.message + ')' : ''), () => 'waits']]);
}

function showSummary(s) {
  const w = s.workflows;
  $('wfcounts').innerHTML = ['running', 'pending', 'paused', 'completed', 'failed', 'cancelled']
    .map((k) => '<span class="' + k + '">' + k + ' <b>' + w[k] + '</b></span>').join('');
  $('wfbar').textContent = 'done ' + w.completed + ' · running ' + w.running + ' · failed ' + w.failed;
  history.push({ at: s.at, done: s.steps.completed + s.tasksDistributed.completed, depth: s.tasks.queued + s.tasks.running });
  if (history.length > 150) history.shift();
  const rates = history.slice(1).map((h, i) => Math.max(0, h.done - history[i].done) * 60000 / Math.max(1, h.at - history[i].at));
  $('throughput').innerHTML = 'steps and dispatched tasks done per minute, last ' + history.length + ' readings' + spark(rates) +
    'queue depth' + spark(history.map((h) => h.depth));
  return s;
}

/** Locks held, groups' leaders, and each pool's items (holder or free) with its waiting requests. */
function showCoordination(locks, leaders, pools, ok) {
  ok(locks, (l) => table('locks', l.locks, [['lock', (x) => x.name, () => ''], ['holder', (x) => x.holder, () => ''],
    ['fence', (x) => x.fence, () => ''], ['expires', (x) => time(x.expiresAt), () => '']]));
  ok(leaders, (l) => table('leaders', l.leaders, [['group', (x) => x.group, () => ''], ['leader', (x) => x.leader, () => ''],
    ['term', (x) => x.term, () => ''], ['since', (x) => time(x.since), () => '']]));
  ok(pools, (p) => table('pools', p.pools.flatMap((pool) => pool.items.map((i) => ({ pool, i }))), [
    ['pool', (x) => x.pool.name + ' (' + x.pool.available + '/' + x.pool.size + ' free, ' + x.pool.waiters.length + ' waiting)', () => ''],
    ['item', (x) => x.i.item, () => ''], ['holder', (x) => x.i.holder || 'free', (x) => (x.i.holder ? '' : 'free')],
    ['fence', (x) => x.i.fence, () => '']]));
  ok(pools, (p) => more('poolsmore', p.pools, p.nextCursor));
}

async function refresh() {
  const [health, nodes, summary, agents, breakers, dead, timers, waiting, locks, leaders, pools] = await Promise.allSettled([
    api('/v1/health'), api('/v1/nodes'), api('/v1/metrics/summary'), api('/v1/agents?limit=1000'),
    api('/v1/breakers'), api('/v1/dead-letters?limit=50'), api('/v1/timers?limit=1000'), api('/v1/queues/waiting'),
    api('/v1/coordination/locks?limit=1000'), api('/v1/coordination/leaders?limit=1000'),
    api('/v1/coordination/pools?limit=100'), searchRuns(), shownRun ? showRun(shownRun) : null, showUsage()]);
  const ok = (p, show) => { if (p.status === 'fulfilled' && p.value) show(p.value); };
  ok(health, (h) => {
    $('health').textContent = h.health.status; $('health').className = h.health.status;
    table('checks', h.health.checks || [], [['check', (c) => c.name], ['status', (c) => c.status], ['reason', (c) => c.reason || '']]);
  });
  ok(nodes, (n) => table('nodes', n.nodes, [['node', (x) => x.id], ['state', (x) => x.state], ['heartbeat', (x) => time(x.heartbeatAt), () => '']]));
  const s = summary.status === 'fulfilled' ? showSummary(summary.value) : { byQueue: {} };
  showQueues(s, waiting.status === 'fulfilled' ? waiting.value : undefined);
  // The agent's status from its state row (the API's status), a paused one with its reason.
  ok(agents, (a) => table('agents', a.agents, [['agent', (x) => x.id], ['capabilities', (x) => x.capabilities.join(', '), () => ''],
    ['health', (x) => x.health], ['status', (x) => (x.status || '') + (x.pauseReason ? ' (' + x.pauseReason + ')' : ''), (x) => x.status || ''],
    ['node', (x) => x.node, () => ''],
    ['tasks', (x) => { const q = s.byQueue['agent:' + x.id]; return q ? q.queued + q.running : 0; }, () => ''],
    // An operator's controls (admin token): pause or resume, and stop.
    ['', (x) => (x.status === 'paused' ? button('resume', 'agent-resume', x.id) : button('pause', 'agent-pause', x.id)) +
      button('stop', 'agent-stop', x.id), () => '', true]]));
  ok(breakers, (b) => table('breakers', b.breakers, [['service', (x) => x.service, () => ''], ['state', (x) => x.state],
    ['failures', (x) => x.totals.failures, () => ''], ['rejected', (x) => x.totals.rejections, () => ''],
    ['', (x) => (x.state === 'closed' ? '' : button('reset', 'reset', x.service)), () => '', true]]));
  ok(dead, (d) => table('dead', d.deadLetters, [['task', (x) => x.id, () => ''], ['queue', (x) => x.queue, () => ''],
    ['attempts', (x) => x.attempts, () => ''], ['error', (x) => x.lastError, () => 'error'], ['', (x) => button('retry', 'retry', x.id), () => '', true]]));
  ok(timers, (t) => table('timers', t.timers, [['timer', (x) => x.id, () => ''], ['kind', (x) => x.kind, () => ''],
    ['topic', (x) => x.topic, () => ''], ['due', (x) => time(x.dueAt), () => ''], ['fired', (x) => x.firedCount, () => '']]));
  // A list with a next page shows its first page and says so.
  ok(agents, (a) => more('agentsmore', a.agents, a.nextCursor));
  ok(timers, (t) => more('timersmore', t.timers, t.nextCursor));
  showCoordination(locks, leaders, pools, ok);
  const failed = [health, nodes, summary, agents, breakers, dead, timers, waiting, locks, leaders, pools].find((p) => p.status === 'rejected');
  $('updated').textContent = failed ? 'error: ' + failed.reason.message : 'updated ' + new Date().toLocaleTimeString();
  $('updated').className = failed ? 'error' : '';
}

/** Tokens spent by agent loops, by agent. */
async function showUsage() {
  const u = await api('/v1/ai/usage?by=agent&limit=20');
  if (u) table('usage', u.usage, [['agent', (x) => x.key, () => ''], ['calls', (x) => x.calls, () => ''],
    ['input', (x) => x.inputTokens, () => ''], ['output', (x) => x.outputTokens, () => ''],
    ['total', (x) => x.totalTokens, () => ''], ['last call', (x) => time(x.lastAt), () => '']]);
}

/** A tool call waiting on its approval: a pending signal step named approval:<loop>:<turn>:<call id>. */
const awaitsApproval = (x) => x.kind === 'signal' && x.status === 'pending' && x.name.startsWith('approval:');

async function searchRuns() {
  const name = $('wfname').value.trim(), status = $('wfstatus').value;
  const q = 'limit=50' + (name ? '&name=' + enc(name) : '') + (status ? '&status=' + enc(status) : '');
  const { workflows } = await api('/v1/workflows?' + q);
  table('workflows', workflows, [['run', (w) => w.id, () => ''], ['workflow', (w) => w.name, () => ''],
    ['status', (w) => w.status], ['started', (w) => time(w.createdAt), () => ''], ['updated', (w) => time(w.updatedAt), () => '']], (w) => w.id);
}

async function showRun(id) {
  shownRun = id;
  const r = await api('/v1/workflows/' + enc(id));
  if (!r) return;
  $('runtitle').textContent = r.workflow.name + ' ' + id + ': ' + r.workflow.status +
    ' (' + Math.round((r.workflow.updatedAt - r.workflow.createdAt) / 10) / 100 + ' s)' +
    (r.workflow.traceId ? ' · trace ' + r.workflow.traceId : '');
  // Why it waits, when the API says: the run (no live node serves it) or a step (no capable agent).
  const waits = (r.waiting ? [r.waiting] : []).concat(r.steps.filter((x) => x.waiting).map((x) => ({ ...x.waiting, step: x.index })));
  $('runwaits').textContent = waits.map((w) => (w.step === undefined ? 'waits: ' : 'step ' + w.step + ' waits: ') + w.reason + ' (' + w.message + ')').join('; ');
  // Each step's bar spans its start to its end (or now) on the run's own time axis.
  const t0 = r.workflow.createdAt, span = Math.max(1, (r.workflow.finishedAt || Date.now()) - t0);
  const pct = (ms) => Math.min(100, Math.max(0, (ms * 100) / span)).toFixed(2) + '%';
  const bar = (x) => '<span class="gantt"><span style="margin-left:' + pct(x.startedAt - t0) + ';width:' +
    pct((x.finishedAt || Date.now()) - x.startedAt) + '"></span></span>';
  table('steps', r.steps, [['#', (x) => x.index, () => ''], ['step', (x) => x.name, () => ''], ['kind', (x) => x.kind, () => ''],
    ['status', (x) => x.status], ['retries', (x) => Math.max(0, x.attempts - 1), () => ''],
    ['started', (x) => '+' + duration(x.startedAt - t0), () => ''], ['took', (x) => duration(x.durationMs), () => 'took'],
    ['timeline', bar, () => '', true], ['due', (x) => time(x.dueAt), () => ''],
    ['waits', (x) => (x.waiting ? x.waiting.reason : ''), () => 'waits'],
    ['error', (x) => (x.error ? x.error.message : ''), () => 'error'],
    // A person's decision for a tool call of an agent loop (an operator's token).
    ['', (x) => (awaitsApproval(x) && r.workflow.status === 'waiting' ? button('approve', 'approve', JSON.stringify([id, x.name])) +
      button('deny', 'deny', JSON.stringify([id, x.name])) : ''), () => '', true]]);
}

async function act(action, arg) {
  try {
    if (action === 'retry') await api('/v1/dead-letters/retry', { method: 'POST', body: JSON.stringify({ ids: [Number(arg)] }) });
    if (action === 'reset') await api('/v1/breakers/' + enc(arg) + '/reset', { method: 'POST' });
    if (action.startsWith('agent-')) await api('/v1/agents/' + enc(arg) + '/' + action.slice(6), { method: 'POST' });
    if (action === 'approve' || action === 'deny') {
      const [run, name] = JSON.parse(arg);
      const reason = action === 'deny' ? prompt('Why deny this call? The model is told.') : undefined;
      if (reason === null) return;
      const data = { approved: action === 'approve', by: 'dashboard', ...(reason ? { reason } : {}) };
      await api('/v1/workflows/' + enc(run) + '/signal', { method: 'POST', body: JSON.stringify({ name, data }) });
    }
    await refresh();
  } catch (e) { $('updated').textContent = 'error: ' + e.message; $('updated').className = 'error'; }
}

document.addEventListener('click', (e) => {
  const b = e.target.closest('[data-action]');
  if (b) return act(b.dataset.action, b.dataset.arg);
  const row = e.target.closest('#workflows [data-pick]');
  if (row) showRun(row.dataset.pick).catch(() => undefined);
});
$('wfsearch').addEventListener('submit', (e) => { e.preventDefault(); searchRuns().catch(() => undefined); });
$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token').value.trim();
  sessionStorage.setItem('garrison.token', token);
  $('login').hidden = true;
  refresh(); connect();
});

const lines = [];
let soon;
function onMessage(block) {
  let type = 'message', data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) type = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!data) return; // a heartbeat comment
  lines.unshift(time(Date.now()) + ' ' + type + ' ' + data.slice(0, 200));
  lines.length = Math.min(lines.length, 100);
  $('events').textContent = lines.join('\n');
  soon ??= setTimeout(() => { soon = undefined; refresh(); }, 300);
}

let streaming = false;
async function connect() {
  if (streaming) return;
  streaming = true;
  try {
    const r = await fetch('/v1/events', { headers: token ? { authorization: 'Bearer ' + token } : {} });
    if (r.status === 401) { streaming = false; $('login').hidden = false; return; }
    if (!r.ok || !r.body) throw new Error('events: ' + r.status);
    $('live').textContent = 'live'; $('live').className = 'live';
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let i; (i = buffer.indexOf('\n\n')) >= 0; buffer = buffer.slice(i + 2)) onMessage(buffer.slice(0, i));
    }
  } catch (e) { /* reconnect below */ }
  streaming = false;
  $('live').textContent = 'reconnecting'; $('live').className = 'error';
  setTimeout(connect, 3000);
}

refresh(); connect(); setInterval(refresh, 2000);`;

const STATUSES = [
  '',
  'pending',
  'running',
  'sleeping',
  'waiting',
  'paused',
  'completed',
  'failed',
  'cancelled',
];

/** The base64 SHA-256 of the page's one inline script, for its Content-Security-Policy. */
export const DASHBOARD_SCRIPT_SHA256 = createHash('sha256').update(SCRIPT, 'utf8').digest('base64');

export function dashboardPage(): string {
  const options = STATUSES.map((s) => `<option value="${s}">${s || 'any status'}</option>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Garrison</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head><body>
<header><h1>Garrison</h1><span>health <b id="health">…</b></span><span id="wfbar"></span>
<span id="live">connecting</span><small id="updated"></small></header>
<main>
<section class="wide"><h2>Workflows</h2><div class="figures" id="wfcounts"></div>
<form id="wfsearch"><input id="wfname" placeholder="workflow name"><select id="wfstatus">${options}</select><button>search</button></form>
<table id="workflows"></table></section>
<section class="wide"><h2>Step timeline</h2><div id="runtitle">pick a run above</div><div id="runwaits"></div><table id="steps"></table></section>
<section><h2>Agents</h2><table id="agents"></table><small id="agentsmore"></small></section>
<section><h2>Queues</h2><table id="queues"></table><div id="throughput"></div></section>
<section><h2>Nodes</h2><table id="nodes"></table></section>
<section><h2>Health checks</h2><table id="checks"></table></section>
<section><h2>Circuit breakers</h2><table id="breakers"></table></section>
<section><h2>Dead letters</h2><table id="dead"></table></section>
<section><h2>Timers</h2><table id="timers"></table><small id="timersmore"></small></section>
<section id="coordination"><h2>Coordination</h2><h3>Locks</h3><table id="locks"></table><h3>Leaders</h3><table id="leaders"></table>
<h3>Pools</h3><table id="pools"></table><small id="poolsmore"></small></section>
<section><h2>Model usage</h2><table id="usage"></table></section>
<section><h2>Events</h2><div id="events"></div></section>
</main>
<div id="login" hidden><form><b>This API needs a token</b><input id="token" type="password" autocomplete="off" placeholder="bearer token"><button>use it</button>
<small>Kept in this tab's session storage only.</small></form></div>
<script>${SCRIPT}</script></body></html>`;
}
