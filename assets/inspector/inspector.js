// The omirr inspector page: plain browser JavaScript, no dependencies, no network
// beyond the process that serves it. The server lays charts out (src/inspect/layout.ts);
// this file draws them as SVG, lights the active states, and follows the live stream.
const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);

const state = {
  actors: new Map(), // id -> summary
  selected: null,
  detail: null,
  graphs: new Map(), // graphId -> { graph, layout }
  drawnGraph: null,
  clockSkew: 0, // server now - browser now
  fetching: false,
  refetch: false,
};

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function sel(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** `{ running: { fetch: 'wait' } }` -> `running.fetch.wait`; parallel regions joined by `, `. */
function valueText(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v !== 'object') return String(v);
  return Object.entries(v)
    .map(([k, sub]) => {
      const rest = valueText(sub);
      if (!rest) return k;
      return rest.includes(', ') ? `${k}.(${rest})` : `${k}.${rest}`;
    })
    .join(', ');
}

function timeText(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function durationText(ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms % 60_000) / 1000)}s`;
}

// ---------------------------------------------------------------- actor tree
function renderTree() {
  const showEnded = $('show-ended').checked;
  const actors = [...state.actors.values()].filter((a) => showEnded || a.endedAt === undefined);
  const ids = new Set(actors.map((a) => a.id));
  const kids = new Map();
  for (const a of actors) {
    const p = a.parent && ids.has(a.parent) ? a.parent : '';
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(a);
  }
  const build = (parentId) => {
    const ul = el('ul');
    for (const a of kids.get(parentId) ?? []) {
      const li = el('li');
      const b = el('button', { class: 'actor', 'data-actor-id': a.id, title: a.id });
      if (a.id === state.selected) b.classList.add('selected');
      if (a.endedAt !== undefined) b.classList.add('ended');
      b.append(el('span', { class: 'name' }, a.label ?? a.name));
      if (a.machineId && a.machineId !== a.name) b.append(' ', el('span', { class: 'machine' }, a.machineId));
      else if (a.src && a.src !== a.name) b.append(' ', el('span', { class: 'machine' }, a.src));
      if (a.status !== 'active') b.append(el('span', { class: `status ${a.status}` }, a.status));
      const v = valueText(a.value);
      if (v) b.append(el('span', { class: 'value' }, v));
      b.addEventListener('click', () => select(a.id));
      li.append(b);
      if (kids.has(a.id)) li.append(build(a.id));
      ul.append(li);
    }
    return ul;
  };
  const tree = $('tree');
  tree.replaceChildren(...build('').childNodes);
  const live = [...state.actors.values()].filter((a) => a.endedAt === undefined).length;
  const ended = state.actors.size - live;
  $('actor-count').textContent = `(${live} live${ended ? `, ${ended} finished` : ''})`;
}

// ---------------------------------------------------------------- chart
function drawChart(graphId) {
  const svg = $('chart');
  const entry = state.graphs.get(graphId);
  if (!entry) return;
  if (state.drawnGraph === graphId) return;
  state.drawnGraph = graphId;
  const { layout } = entry;
  svg.replaceChildren();
  svg.setAttribute('width', layout.width);
  svg.setAttribute('height', layout.height);
  svg.setAttribute('viewBox', `0 0 ${layout.width} ${layout.height}`);
  svg.dataset.graphId = graphId;
  const defs = sel('defs');
  const marker = sel('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
  marker.append(sel('path', { d: 'M0,0 L10,5 L0,10 z' }));
  defs.append(marker);
  svg.append(defs);

  const states = sel('g', { class: 'states' });
  for (const n of layout.nodes) {
    const g = sel('g', { 'data-state-id': n.id });
    const cls = ['state', n.type];
    if (n.depth === 0) cls.push('root');
    const rect = sel('rect', { class: cls.join(' '), x: n.x, y: n.y, width: n.w, height: n.h, rx: n.type === 'atomic' || n.type === 'final' ? 8 : 6 });
    const title = sel('title', {}, n.id);
    rect.append(title);
    g.append(rect);
    if (n.type === 'final') g.append(sel('rect', { class: 'final-inner', x: n.x + 3, y: n.y + 3, width: n.w - 6, height: n.h - 6, rx: 6 }));
    const compound = n.type === 'compound' || n.type === 'parallel';
    if (compound) {
      g.append(sel('text', { class: 'state-label title', x: n.x + 8, y: n.y + 16 }, n.type === 'parallel' ? `${n.key} ∥` : n.key));
      n.lines.forEach((line, i) => g.append(sel('text', { class: 'state-line', x: n.x + 8, y: n.y + 30 + i * 14 }, line)));
    } else {
      g.append(sel('text', { class: 'state-label', x: n.x + n.w / 2, y: n.y + 19, 'text-anchor': 'middle' }, n.key));
      n.lines.forEach((line, i) => g.append(sel('text', { class: 'state-line', x: n.x + n.w / 2, y: n.y + 33 + i * 14, 'text-anchor': 'middle' }, line)));
    }
    states.append(g);
  }
  svg.append(states);

  for (const i of layout.initials) {
    svg.append(sel('circle', { class: 'initial-dot', cx: i.x, cy: i.y, r: 4 }));
    svg.append(sel('path', { class: 'edge', d: i.d, 'marker-end': 'url(#arrow)' }));
  }
  const edges = sel('g', { class: 'edges' });
  const labels = sel('g', { class: 'labels' });
  for (const e of layout.edges) {
    edges.append(sel('path', { class: `edge kind-${e.kind}`, d: e.d, 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to }));
    const w = e.label.length * 6.1 + 4;
    labels.append(sel('rect', { class: 'edge-label-bg', x: e.labelX - 2, y: e.labelY - 9, width: w, height: 12, rx: 2 }));
    labels.append(sel('text', { class: 'edge-label', x: e.labelX, y: e.labelY, 'data-from': e.from }, e.label));
  }
  svg.append(edges, labels);
}

function lightChart(active) {
  const on = new Set(active ?? []);
  for (const g of $('chart').querySelectorAll('g[data-state-id]')) {
    g.querySelector('rect.state').classList.toggle('active', on.has(g.dataset.stateId));
    g.classList.toggle('active', on.has(g.dataset.stateId));
  }
  for (const p of $('chart').querySelectorAll('[data-from]')) p.classList.toggle('live', on.has(p.dataset.from));
}

// ---------------------------------------------------------------- detail panels
function renderDetail() {
  const d = state.detail;
  if (!d) return;
  $('empty').hidden = true;
  $('detail').hidden = false;
  $('actor-title').textContent = (d.label ?? d.name) + (d.machineId && d.machineId !== d.name ? ` (${d.machineId})` : '');
  const meta = $('actor-meta');
  meta.replaceChildren();
  const add = (label, value) => {
    if (value === undefined || value === '') return;
    meta.append(`${label} `, el('code', {}, String(value)), '  ·  ');
  };
  add('state', valueText(d.value));
  add('status', d.status);
  add('id', d.id);
  add('system id', d.systemId);
  add('src', d.src);
  add('events', d.eventCount);
  add('since', timeText(d.startedAt));
  if (d.endedAt !== undefined) add('ended', timeText(d.endedAt));
  if (d.tags && d.tags.length) add('tags', d.tags.join(' '));

  if (d.graphId) {
    $('chart-wrap').hidden = false;
    drawChart(d.graphId);
    lightChart(d.active);
  } else {
    $('chart-wrap').hidden = true;
    state.drawnGraph = null;
  }

  const ctx = {};
  if (d.context !== undefined) Object.assign(ctx, typeof d.context === 'object' && d.context !== null ? d.context : { context: d.context });
  if (d.output !== undefined) ctx['(output)'] = d.output;
  if (d.error !== undefined) ctx['(error)'] = d.error;
  $('context').textContent = Object.keys(ctx).length ? JSON.stringify(ctx, null, 2) : '(no context)';
  renderTimers();

  const box = $('events');
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  box.replaceChildren(
    ...d.events.map((e) => {
      const row = el('div', { class: 'event' });
      row.append(el('span', { class: 't' }, timeText(e.at)), el('span', { class: 'ty' }, e.type));
      if (e.fromName) row.append(' ', el('span', { class: 'from', title: e.fromName }, `from ${state.actors.get(e.from)?.label ?? e.fromName}`));
      if (e.value !== undefined) row.append(' ', el('span', { class: 'to' }, `→ ${valueText(e.value)}`));
      if (e.payload !== undefined) row.append(el('span', { class: 'payload' }, JSON.stringify(e.payload)));
      return row;
    }),
  );
  $('event-count').textContent = `(last ${d.events.length} of ${d.eventCount})`;
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function renderTimers() {
  const d = state.detail;
  const box = $('timers');
  if (!d || !d.timers.length) return box.replaceChildren();
  const now = Date.now() + state.clockSkew;
  box.replaceChildren(...d.timers.map((t) => el('span', { class: 'timer', title: t.event }, `⏱ ${t.label}: ${durationText(t.dueAt - now)} left`)));
}

// ---------------------------------------------------------------- data flow
async function getJson(url) {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

async function loadDetail() {
  if (!state.selected) return;
  if (state.fetching) {
    state.refetch = true;
    return;
  }
  state.fetching = true;
  try {
    do {
      state.refetch = false;
      const id = state.selected;
      const r = await getJson(`/api/actors/${encodeURIComponent(id)}`);
      state.clockSkew = r.now - Date.now();
      const d = r.actor;
      if (d.graphId && !state.graphs.has(d.graphId)) state.graphs.set(d.graphId, await getJson(`/api/graphs/${encodeURIComponent(d.graphId)}`));
      if (id === state.selected) {
        state.detail = d;
        renderDetail();
      }
    } while (state.refetch);
  } catch (err) {
    console.warn(err);
  } finally {
    state.fetching = false;
  }
}

function select(id) {
  state.selected = id;
  state.detail = null;
  history.replaceState(null, '', `#actor=${encodeURIComponent(id)}`);
  renderTree();
  loadDetail();
}

function applyActors(msg) {
  state.clockSkew = msg.now - Date.now();
  state.actors = new Map(msg.actors.map((a) => [a.id, a]));
  renderTree();
  if (state.selected && (msg.changed.includes(state.selected) || !state.detail)) loadDetail();
}

function connect() {
  const es = new EventSource('/api/stream');
  es.onopen = () => {
    $('conn').textContent = 'live';
    $('conn').className = 'conn ok';
  };
  es.onmessage = (m) => applyActors(JSON.parse(m.data));
  es.onerror = () => {
    $('conn').textContent = 'disconnected (process gone?) — retrying';
    $('conn').className = 'conn lost';
  };
}

$('show-ended').addEventListener('change', renderTree);
const fromHash = /^#actor=(.+)$/.exec(location.hash);
if (fromHash) state.selected = decodeURIComponent(fromHash[1]);
setInterval(renderTimers, 250);
connect();
