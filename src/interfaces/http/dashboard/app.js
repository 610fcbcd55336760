// The nightshift dashboard: plain JavaScript over the /api/v1 endpoints, no framework, no build.
// The token lives in sessionStorage (this tab only) and travels as a bearer header, never as a
// cookie, so another site cannot make the browser act with it (CSRF). Every value from the API is
// escaped before it reaches the page. Lists are paged and aggregated by the server.
'use strict';

const TOKEN_KEY = 'nightshift.token';
const SCOPES = ['read', 'operate', 'admin'];
const STATUS_ORDER = [
  'error',
  'timeout',
  'interrupted',
  'missed',
  'skipped',
  'running',
  'queued',
  'delivered',
  'ok',
];
const COLORS = {
  ok: '#3fb950',
  error: '#f85149',
  timeout: '#f0883e',
  interrupted: '#d29922',
  skipped: '#6e7681',
  missed: '#a371f7',
  delivered: '#39c5cf',
  running: '#58a6ff',
  queued: '#388bfd',
};
const PAGE = 50;

const state = {
  scope: null,
  range: '24h',
  q: '',
  offset: 0,
  // Run lists page by key: the cursors of the pages before this one, and the next page's.
  runsCursors: [],
  runsNext: null,
  runsStatus: '',
  timer: null,
  stream: null,
  output: null,
};
const view = document.getElementById('view');

// ----------------------------------------------------------------------------------------------
// helpers

function esc(v) {
  return String(v ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}
function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}
function may(required) {
  return state.scope !== null && SCOPES.indexOf(state.scope) >= SCOPES.indexOf(required);
}
function badge(status) {
  return `<span class="badge s-${esc(status)}">${esc(status)}</span>`;
}
function iso(ms) {
  return ms == null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}
function rel(ms) {
  if (ms == null) return '-';
  const d = ms - Date.now();
  const a = Math.abs(d);
  const t =
    a < 60e3
      ? `${Math.round(a / 1e3)}s`
      : a < 3600e3
        ? `${Math.round(a / 60e3)}m`
        : a < 86400e3
          ? `${(a / 3600e3).toFixed(1)}h`
          : `${(a / 86400e3).toFixed(1)}d`;
  return d >= 0 ? `in ${t}` : `${t} ago`;
}
function dur(ms) {
  if (ms == null) return '-';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60e3) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3600e3) return `${Math.floor(ms / 60e3)}m${Math.round((ms % 60e3) / 1e3)}s`;
  return `${(ms / 3600e3).toFixed(1)} h`;
}
function bytes(n) {
  if (n == null) return '-';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}
function schedule(s) {
  if (!s) return '';
  if (s.kind === 'cron') return `cron ${s.expr}${s.tz ? ` (${s.tz})` : ''}`;
  if (s.kind === 'every') return `every ${dur(s.everyMs)}`;
  if (s.kind === 'at') return `at ${iso(s.atMs)}`;
  return s.kind;
}
function toast(text) {
  const el = document.createElement('div');
  el.textContent = text;
  document.getElementById('toast').append(el);
  setTimeout(() => el.remove(), 4000);
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.hint = body?.error?.hint ?? null;
  }
}

async function api(path, opts = {}) {
  const headers = { authorization: `Bearer ${token()}` };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: opts.method ?? 'GET',
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    cache: 'no-store',
    credentials: 'omit',
  });
  const body = await res.json().catch(() => null);
  if (res.status === 401) {
    logout(`${body?.error?.message ?? 'the token was refused'}; sign in again`);
    throw new ApiError(res.status, body);
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

// ----------------------------------------------------------------------------------------------
// charts (inline SVG)

function worst(counts) {
  for (const s of STATUS_ORDER) if (counts[s]) return s;
  return null;
}

function timelineSvg(buckets, width = 288, height = 16) {
  const w = width / buckets.length;
  let out = `<svg class="timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="runs over time"><rect width="${width}" height="${height}" fill="#0b0f13"/>`;
  buckets.forEach((b, i) => {
    const s = worst(b);
    if (!s) return;
    const n = Object.values(b).reduce((a, c) => a + c, 0);
    const title = Object.entries(b)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ');
    out += `<rect x="${(i * w).toFixed(2)}" y="1" width="${Math.max(1, w - 0.6).toFixed(2)}" height="${height - 2}" fill="${COLORS[s]}"><title>${esc(title)}${n > 1 ? '' : ''}</title></rect>`;
  });
  return out + '</svg>';
}

function sparkSvg(recent, width = 100, height = 22) {
  const pts = recent.filter((r) => r.durationMs != null);
  if (pts.length < 2) return '<span class="muted">-</span>';
  const max = Math.max(...pts.map((r) => r.durationMs), 1);
  const step = width / (pts.length - 1);
  const line = pts
    .map(
      (r, i) => `${(i * step).toFixed(1)},${(height - 2 - (r.durationMs / max) * (height - 4)).toFixed(1)}`,
    )
    .join(' ');
  const dots = pts
    .filter((r) => r.status !== 'ok' && r.status !== 'delivered')
    .map((r) => {
      const i = pts.indexOf(r);
      return `<circle cx="${(i * step).toFixed(1)}" cy="${(height - 2 - (r.durationMs / max) * (height - 4)).toFixed(1)}" r="2" fill="${COLORS[r.status] ?? '#fff'}"/>`;
    })
    .join('');
  return `<svg class="spark" width="${width}" height="${height}" role="img" aria-label="durations, max ${esc(dur(max))}"><polyline points="${line}" fill="none" stroke="#58a6ff" stroke-width="1.5"/>${dots}<title>last ${pts.length} runs, longest ${esc(dur(max))}</title></svg>`;
}

function barChart(values, labelFn, color) {
  const W = 600;
  const H = 140;
  const vals = values.map((v) => v.value ?? 0);
  const max = Math.max(...vals, 1);
  // Bars stay narrow when there are few runs, so a single backup does not fill the chart.
  const w = Math.min(W / Math.max(values.length, 1), 24);
  let out = `<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img">`;
  values.forEach((v, i) => {
    const h = ((v.value ?? 0) / max) * (H - 10);
    out += `<rect x="${(i * w + 1).toFixed(1)}" y="${(H - h).toFixed(1)}" width="${Math.max(1, w - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${v.color ?? color}"><title>${esc(labelFn(v))}</title></rect>`;
  });
  return out + '</svg>';
}

function lineChart(values, labelFn) {
  const W = 600;
  const H = 140;
  const pts = values.filter((v) => v.value != null);
  if (pts.length === 0) return '<p class="muted">no data yet</p>';
  const max = Math.max(...pts.map((v) => v.value), 1);
  const step = W / Math.max(pts.length - 1, 1);
  const coords = pts.map((v, i) => [i * step, H - 5 - (v.value / max) * (H - 15)]);
  let out = `<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img"><polyline points="${coords.map((c) => c.map((n) => n.toFixed(1)).join(',')).join(' ')}" fill="none" stroke="#58a6ff" stroke-width="2"/>`;
  coords.forEach(
    (c, i) =>
      (out += `<circle cx="${c[0].toFixed(1)}" cy="${c[1].toFixed(1)}" r="3" fill="#58a6ff"><title>${esc(labelFn(pts[i]))}</title></circle>`),
  );
  return out + '</svg>';
}

function legend() {
  return `<div class="legend">${Object.entries(COLORS)
    .map(
      ([k, c]) =>
        `<span><svg width="10" height="10"><rect width="10" height="10" fill="${c}"/></svg> ${k}</span>`,
    )
    .join('')}</div>`;
}

// ----------------------------------------------------------------------------------------------
// actions shared by the pages

function actionButtons(job) {
  let out = '';
  if (may('operate'))
    out += `<button data-act="run" data-job="${esc(job.id)}" class="primary">Run now</button>`;
  if (may('admin'))
    out += job.enabled
      ? `<button data-act="disable" data-job="${esc(job.id)}">Disable</button>`
      : `<button data-act="enable" data-job="${esc(job.id)}">Enable</button>`;
  return out;
}

async function act(button) {
  const { act: what, job } = button.dataset;
  button.disabled = true;
  try {
    if (what === 'run') {
      const r = await api(`/api/v1/jobs/${encodeURIComponent(job)}/run`, { method: 'POST', body: {} });
      if (r.enqueued) {
        toast(`run ${r.runId} queued`);
        location.hash = `#/run/${encodeURIComponent(r.runId)}`;
        return;
      }
      toast(`not queued: ${r.reason ?? 'unknown reason'}`);
    } else if (what === 'enable' || what === 'disable') {
      await api(`/api/v1/jobs/${encodeURIComponent(job)}/${what}`, { method: 'POST' });
      toast(`${what}d`);
    } else if (what === 'check') {
      const r = await api(`/api/v1/backup/profiles/${encodeURIComponent(button.dataset.profile)}/check`, {
        method: 'POST',
        body: {},
      });
      toast(r.ok ? `check of ${r.profile}: ok` : `check of ${r.profile}: ${r.errors.length} error(s)`);
    }
    await render();
  } catch (err) {
    toast(err.message);
  } finally {
    button.disabled = false;
  }
}

view.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-act]');
  if (b) act(b);
  const p = e.target.closest('button[data-page]');
  if (p) {
    const key = p.dataset.key;
    state[key] = Math.max(0, state[key] + Number(p.dataset.page));
    render();
  }
  const rp = e.target.closest('button[data-runs]');
  if (rp) {
    if (rp.dataset.runs === 'next' && state.runsNext) state.runsCursors.push(state.runsNext);
    else if (rp.dataset.runs === 'prev') state.runsCursors.pop();
    render();
  }
  const r = e.target.closest('button[data-range]');
  if (r) {
    state.range = r.dataset.range;
    render();
  }
});

function pager(key, offset, count, total) {
  return `<div class="pager"><button data-key="${key}" data-page="-${PAGE}" ${offset === 0 ? 'disabled' : ''}>Previous</button><span class="muted">${total === 0 ? 0 : offset + 1}–${offset + count} of ${total}</span><button data-key="${key}" data-page="${PAGE}" ${offset + count >= total ? 'disabled' : ''}>Next</button></div>`;
}

function runsQuery() {
  const params = new URLSearchParams({ limit: String(PAGE) });
  const cursor = state.runsCursors.at(-1);
  if (cursor) params.set('cursor', cursor);
  return params;
}

function runsPager(runs) {
  state.runsNext = runs.nextCursor;
  const from = state.runsCursors.length * PAGE;
  return `<div class="pager"><button data-runs="prev" ${from === 0 ? 'disabled' : ''}>Previous</button><span class="muted">${runs.total === 0 ? 0 : from + 1}–${from + runs.entries.length} of ${runs.total}</span><button data-runs="next" ${runs.nextCursor ? '' : 'disabled'}>Next</button></div>`;
}

// ----------------------------------------------------------------------------------------------
// pages

async function jobsPage() {
  const params = new URLSearchParams({
    range: state.range,
    limit: String(PAGE),
    offset: String(state.offset),
    buckets: '96',
  });
  if (state.q) params.set('q', state.q);
  // The status fetched at sign-in serves the first drawing; later drawings fetch a fresh one.
  const fresh = state.status;
  state.status = null;
  const [t, status] = await Promise.all([api(`/api/v1/timeline?${params}`), fresh ?? api('/api/v1/status')]);
  const rows = t.jobs
    .map(({ job, buckets, recent }) => {
      const last = job.state?.lastRunStatus;
      return `<tr data-job-row="${esc(job.name)}">
        <td data-label="job"><a href="#/job/${encodeURIComponent(job.id)}">${esc(job.name)}</a><div class="muted hide-narrow">${esc(schedule(job.schedule))}</div></td>
        <td data-label="status">${badge(job.enabled ? job.status : 'disabled')}</td>
        <td data-label="next">${job.nextRunAtMs ? `<span title="${esc(iso(job.nextRunAtMs))}">${esc(rel(job.nextRunAtMs))}</span>` : '-'}</td>
        <td data-label="last">${last ? `${badge(last)} <span class="muted">${esc(rel(job.state.lastRunAtMs))}</span>` : '<span class="muted">never</span>'}</td>
        <td data-label="durations">${sparkSvg(recent)}</td>
        <td data-label="${esc(state.range)}">${timelineSvg(buckets)}</td>
        <td class="actions">${actionButtons(job)}</td>
      </tr>`;
    })
    .join('');
  const failing = status.failing.length;
  view.innerHTML = `
    <h1>Jobs</h1>
    <p class="muted">${status.jobs.total} jobs (${status.jobs.enabled} enabled) · ${failing === 0 ? 'none failing' : `<span class="error">${failing} failing</span>`} · next: ${status.nextFire ? `${esc(status.nextFire.name)} ${esc(rel(status.nextFire.atMs))}` : 'none'}</p>
    <div class="toolbar">
      <input id="q" type="search" placeholder="filter by name" value="${esc(state.q)}" aria-label="filter jobs by name" />
      <span class="grow"></span>
      <button data-range="24h" ${state.range === '24h' ? 'class="primary"' : ''}>24 h</button>
      <button data-range="7d" ${state.range === '7d' ? 'class="primary"' : ''}>7 d</button>
    </div>
    ${legend()}
    <table class="jobs"><thead><tr><th>Job</th><th>Status</th><th>Next fire</th><th>Last result</th><th>Durations</th><th>Runs, last ${esc(state.range)}</th><th></th></tr></thead>
    <tbody>${rows || '<tr><td colspan="7" class="muted">no jobs</td></tr>'}</tbody></table>
    ${pager('offset', state.offset, t.jobs.length, t.total)}`;
  const q = document.getElementById('q');
  q.addEventListener('change', () => {
    state.q = q.value.trim();
    state.offset = 0;
    render();
  });
}

function runsTable(entries, names) {
  return `<table><thead><tr><th>Run</th><th>Status</th>${names ? '<th>Job</th>' : ''}<th>Trigger</th><th>Slot</th><th>Took</th><th class="hide-narrow">Reason</th></tr></thead><tbody>${
    entries
      .map(
        (r) =>
          `<tr><td><a href="#/run/${encodeURIComponent(r.runId)}">${esc(r.runId.slice(-12))}</a></td><td>${badge(r.status)}</td>${
            names
              ? `<td><a href="#/job/${encodeURIComponent(r.jobId)}">${esc(names.get(r.jobId) ?? r.jobId)}</a></td>`
              : ''
          }<td>${esc(r.trigger)}${r.attempt > 1 ? ` #${r.attempt}` : ''}</td><td>${esc(iso(r.slotMs))}</td><td>${esc(dur(r.durationMs))}</td><td class="hide-narrow">${esc((r.error ?? '').slice(0, 120))}</td></tr>`,
      )
      .join('') || '<tr><td colspan="7" class="muted">no runs</td></tr>'
  }</tbody></table>`;
}

async function jobPage(id) {
  const job = await api(`/api/v1/jobs/${encodeURIComponent(id)}`);
  const runs = await api(`/api/v1/jobs/${encodeURIComponent(id)}/runs?${runsQuery()}`);
  view.innerHTML = `
    <h1>${esc(job.name)} ${badge(job.enabled ? job.status : 'disabled')}</h1>
    <div class="toolbar">${actionButtons(job)}</div>
    <div class="grid">
      <div class="card"><h2>Execution contract</h2><ul class="contract">${job.contract.map((l) => `<li>${esc(l)}</li>`).join('')}</ul></div>
      <div class="card"><h2>Next fire times</h2><ul class="contract">${job.nextRuns.map((t) => `<li>${esc(t)}</li>`).join('') || '<li class="muted">none</li>'}</ul>
      <h2>Last run</h2><dl class="kv"><dt>status</dt><dd>${job.state.lastRunStatus ? badge(job.state.lastRunStatus) : 'never'}</dd><dt>at</dt><dd>${esc(iso(job.state.lastRunAtMs))}</dd><dt>took</dt><dd>${esc(dur(job.state.lastDurationMs))}</dd><dt>reason</dt><dd>${esc(job.state.lastError ?? '-')}</dd><dt>failures in a row</dt><dd>${esc(job.state.consecutiveErrors)}</dd></dl></div>
    </div>
    <h2>Runs</h2>${runsTable(runs.entries)}${runsPager(runs)}`;
}

async function runsPage() {
  const params = runsQuery();
  if (state.runsStatus) params.set('status', state.runsStatus);
  const [runs, jobs] = await Promise.all([api(`/api/v1/runs?${params}`), api('/api/v1/jobs?all=true')]);
  const names = new Map(jobs.jobs.map((j) => [j.id, j.name]));
  view.innerHTML = `<h1>Runs</h1><div class="toolbar"><select id="status" aria-label="status filter"><option value="">every status</option>${Object.keys(
    COLORS,
  )
    .map((s) => `<option ${s === state.runsStatus ? 'selected' : ''}>${s}</option>`)
    .join('')}</select></div>${runsTable(runs.entries, names)}${runsPager(runs)}`;
  document.getElementById('status').addEventListener('change', (e) => {
    state.runsStatus = e.target.value;
    state.runsCursors = [];
    render();
  });
}

async function runPage(id) {
  const run = await api(`/api/v1/runs/${encodeURIComponent(id)}`);
  const live = run.status === 'running' || run.status === 'queued';
  const evidence = run.evidence.length
    ? `<table><thead><tr><th>Check</th><th>Result</th><th>Detail</th></tr></thead><tbody>${run.evidence
        .map(
          (e) =>
            `<tr><td>${esc(e.check)}</td><td>${badge(e.ok ? 'ok' : 'error')}</td><td>${esc(e.detail)}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p class="muted">no evidence recorded</p>';
  view.innerHTML = `
    <h1>Run ${esc(run.runId)} ${badge(run.status)}</h1>
    <div class="grid">
      <div class="card"><dl class="kv">
        <dt>job</dt><dd><a href="#/job/${encodeURIComponent(run.jobId)}">${esc(run.jobName ?? run.jobId)}</a></dd>
        <dt>trigger</dt><dd>${esc(run.trigger)}${run.attempt > 1 ? ` (attempt ${run.attempt})` : ''}</dd>
        <dt>slot</dt><dd>${esc(iso(run.slotMs))}</dd>
        <dt>started</dt><dd>${esc(iso(run.startedAtMs))}</dd>
        <dt>finished</dt><dd>${esc(iso(run.finishedAtMs))}</dd>
        <dt>took</dt><dd>${esc(dur(run.durationMs))}</dd>
        <dt>exit</dt><dd>${esc(run.exitCode ?? '-')}${run.signal ? ` (${esc(run.signal)})` : ''}</dd>
        <dt>reason</dt><dd>${esc(run.error ?? '-')}</dd>
      </dl></div>
      <div class="card"><h2>Evidence</h2>${evidence}</div>
    </div>
    <h2>Output tail${live ? ' <span class="muted" id="output-live">(live)</span>' : ''}</h2><pre id="output">${esc(run.outputTail ?? (live ? '' : '(none)'))}</pre>
    <h2>Details</h2><pre>${esc(run.details ? JSON.stringify(run.details, null, 2) : '(none)')}</pre>`;
  if (live) followOutput(id);
}

// The run's output as it comes; the page is drawn again once the run has ended.
async function followOutput(id) {
  const ctrl = new AbortController();
  state.output = ctrl;
  const pre = document.getElementById('output');
  try {
    await readEvents(`/api/v1/runs/${encodeURIComponent(id)}/output?follow=1`, ctrl.signal, (event, data) => {
      if (event === 'output') pre.textContent = data.output;
      else if (event === 'line') {
        pre.textContent += `${data.text}\n`;
        pre.scrollTop = pre.scrollHeight;
      } else if (event === 'end') {
        state.output = null;
        render();
      }
    });
  } catch {
    // Left the page, or the daemon went away: look again shortly.
    if (state.output === ctrl) state.timer = setTimeout(render, 3000);
  }
}

async function backupsPage() {
  const { profiles } = await api('/api/v1/backup/profiles');
  if (profiles.length === 0) {
    view.innerHTML =
      '<h1>Backups</h1><p class="muted">no backup profiles (create one with <code>nightshift backup quickstart</code>)</p>';
    return;
  }
  const cards = await Promise.all(
    profiles.map(async (p) => {
      const [h, s] = await Promise.all([
        api(`/api/v1/backup/profiles/${encodeURIComponent(p.name)}/history`),
        api(`/api/v1/backup/profiles/${encodeURIComponent(p.name)}/snapshots`).catch((err) => ({
          error: err.message,
          snapshots: [],
        })),
      ]);
      const last = h.backups.at(-1);
      const added = h.backups.map((b) => ({ value: b.bytesAdded, color: COLORS[b.status], b }));
      const size = h.backups.map((b) => ({ value: b.repoBytes, b }));
      const snaps = s.snapshots
        .slice()
        .reverse()
        .slice(0, 30)
        .map(
          (x) =>
            `<tr><td><code>${esc(x.shortId)}</code></td><td>${esc(x.time.slice(0, 19).replace('T', ' '))}</td><td>${esc(x.hostname)}</td><td>${esc(
              x.keptBy
                ? x.keptBy.join('; ')
                : x.removeReason
                  ? `next retention removes it: ${x.removeReason}`
                  : '-',
            )}</td></tr>`,
        )
        .join('');
      const drill = h.lastDrill;
      return `<div class="card" data-profile="${esc(p.name)}">
        <div class="toolbar"><h2 class="grow">${esc(p.name)}</h2>${may('operate') ? `<button data-act="check" data-profile="${esc(p.name)}">Check repository</button>` : ''}</div>
        <dl class="kv"><dt>repository</dt><dd><code>${esc(p.repository)}</code></dd><dt>key</dt><dd>${esc(p.key.kind)}</dd>
        <dt>size</dt><dd>${esc(bytes(last?.repoBytes))}</dd><dt>last backup</dt><dd>${last ? `${badge(last.status)} ${esc(rel(last.slotMs))}` : 'never'}</dd>
        <dt>last drill</dt><dd>${drill ? `${badge(drill.status)} ${esc(rel(drill.slotMs))} <a href="#/run/${encodeURIComponent(drill.runId)}">details</a>` : 'never'}</dd>
        <dt>used by</dt><dd>${p.usedBy.map((j) => `<a href="#/job/${encodeURIComponent(j.id)}">${esc(j.name)}</a> (${esc(j.kind)})`).join(', ') || '-'}</dd></dl>
        <h2>Bytes added per backup <span class="muted">(largest ${esc(bytes(Math.max(0, ...h.backups.map((b) => b.bytesAdded ?? 0))))})</span></h2>${barChart(added, (v) => `${iso(v.b.slotMs)}: ${bytes(v.b.bytesAdded)} (${v.b.status})`, COLORS.ok)}
        <h2>Repository size <span class="muted">(now ${esc(bytes(last?.repoBytes))})</span></h2>${lineChart(size, (v) => `${iso(v.b.slotMs)}: ${bytes(v.value)}`)}
        <h2>Snapshots (${s.snapshots.length})</h2>${s.error ? `<p class="error">${esc(s.error)}</p>` : ''}
        <table><thead><tr><th>Id</th><th>Time</th><th>Host</th><th>Kept by</th></tr></thead><tbody>${snaps || '<tr><td colspan="4" class="muted">none</td></tr>'}</tbody></table>
      </div>`;
    }),
  );
  view.innerHTML = `<h1>Backups</h1>${cards.join('')}`;
}

async function alertsPage() {
  const a = await api('/api/v1/alerts');
  view.innerHTML = `<h1>Alerts</h1>
    <div class="grid">
    <div class="card"><h2>Channels</h2><table><thead><tr><th>Name</th><th>Kind</th><th>Default</th></tr></thead><tbody>${
      a.channels
        .map(
          (c) => `<tr><td>${esc(c.name)}</td><td>${esc(c.kind)}</td><td>${c.default ? 'yes' : ''}</td></tr>`,
        )
        .join('') || '<tr><td colspan="3" class="muted">no channels configured</td></tr>'
    }</tbody></table></div>
    <div class="card"><h2>Watched jobs</h2><table><thead><tr><th>Job</th><th>Failures</th><th>Alerting</th></tr></thead><tbody>${
      a.jobs
        .map(
          (j) =>
            `<tr><td><a href="#/job/${encodeURIComponent(j.id)}">${esc(j.name)}</a></td><td>${esc(j.state.failures ?? 0)}</td><td>${j.state.alerting ? badge('error') : badge('ok')}</td></tr>`,
        )
        .join('') || '<tr><td colspan="3" class="muted">no job has alerting</td></tr>'
    }</tbody></table></div></div>
    <h2>Recent deliveries</h2><table><thead><tr><th>When</th><th>Job</th><th>Purpose</th><th>Channel</th><th>Delivered</th></tr></thead><tbody>${
      a.recent
        .map(
          (d) =>
            `<tr><td>${esc(iso(d.atMs))}</td><td><a href="#/run/${encodeURIComponent(d.runId)}">${esc(d.jobName ?? d.jobId)}</a></td><td>${esc(d.purpose)}</td><td>${esc(d.resolved)}</td><td>${d.delivered ? badge('ok') : `${badge('error')} ${esc(d.error ?? '')}`}</td></tr>`,
        )
        .join('') || '<tr><td colspan="5" class="muted">no alerts sent recently</td></tr>'
    }</tbody></table>`;
}

// ----------------------------------------------------------------------------------------------
// live updates: the server-sent event stream, read with fetch (EventSource cannot send a header)

// Reads a server-sent event stream until it ends; calls onEvent(name, data) per message.
async function readEvents(path, signal, onEvent) {
  const res = await fetch(path, {
    headers: { authorization: `Bearer ${token()}` },
    signal,
    credentials: 'omit',
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const lines = buf.slice(0, i).split('\n');
      buf = buf.slice(i + 2);
      const data = lines.find((l) => l.startsWith('data: '));
      const name = lines.find((l) => l.startsWith('event: '));
      if (data) onEvent(name ? name.slice(7) : 'message', JSON.parse(data.slice(6)));
    }
  }
}

async function follow() {
  if (state.stream) return;
  const ctrl = new AbortController();
  state.stream = ctrl;
  let pending = null;
  try {
    await readEvents('/api/v1/events', ctrl.signal, (_name, e) => {
      if (e.event === 'run.finished') toast(`${e.jobName}: ${e.status} in ${dur(e.durationMs)}`);
      // Re-draw the page once a burst of events has passed.
      if (
        !document.hidden &&
        (location.hash === '' || location.hash.startsWith('#/jobs') || location.hash.startsWith('#/runs'))
      ) {
        clearTimeout(pending);
        pending = setTimeout(render, 700);
      }
    });
  } catch {
    // The daemon went away or the tab signed out: try again shortly while signed in.
  }
  state.stream = null;
  if (token()) setTimeout(follow, 3000);
}

// ----------------------------------------------------------------------------------------------
// routing and sign-in

async function render() {
  clearTimeout(state.timer);
  state.output?.abort();
  state.output = null;
  if (!token()) return showLogin();
  const [, page, arg] = (location.hash || '#/jobs').split('/').map(decodeURIComponent);
  document
    .querySelectorAll('[data-nav]')
    .forEach((a) => a.classList.toggle('active', a.dataset.nav === page));
  try {
    if (page === 'job') await jobPage(arg);
    else if (page === 'run') await runPage(arg);
    else if (page === 'runs') await runsPage();
    else if (page === 'backups') await backupsPage();
    else if (page === 'alerts') await alertsPage();
    else await jobsPage();
  } catch (err) {
    if (token())
      view.innerHTML = `<div class="card"><p class="error">${esc(err.message)}</p>${err.hint ? `<p class="muted">${esc(err.hint)}</p>` : ''}</div>`;
  }
}

function showLogin(message) {
  document.getElementById('nav').hidden = true;
  view.innerHTML = document.getElementById('login').innerHTML;
  const err = document.getElementById('login-error');
  if (message) {
    err.textContent = message;
    err.hidden = false;
  }
  document.getElementById('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById('token').value.trim());
    await start();
  });
}

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.scope = null;
  state.stream?.abort();
  showLogin(message);
}

async function start() {
  try {
    const status = await api('/api/v1/status');
    state.scope = status.scope;
    state.status = status;
  } catch (err) {
    if (token()) logout(err.message);
    return;
  }
  document.getElementById('nav').hidden = false;
  document.getElementById('who').textContent = `scope: ${state.scope}`;
  follow();
  await render();
}

document.getElementById('logout').addEventListener('click', () => logout());
window.addEventListener('hashchange', () => {
  state.runsCursors = [];
  render();
});
if (token()) start();
else showLogin();
