// The interactive map of `papermap serve`: every paper as a point of the topics' 2-D layout,
// drawn by regl-scatterplot (WebGL). Hover shows a paper, a click opens it, Shift+drag
// lassoes a set, the search box highlights its results, labels follow the zoom through the
// topic hierarchy's levels, and the side panel keeps the reader's library and its
// recommendations. Everything comes from this server: the points as 8 bytes each
// (/api/map/points), the rest as JSON. Past a budget of points (adapted to how fast this
// browser draws), the map draws an even sample of the points in and around the view, chosen
// again when the view settles: a software-rendered million points drew at 2 frames a second.
import createScatterplot from '/assets/vendor/regl-scatterplot.esm.js';

const $ = (id) => document.getElementById(id);
const esc = (s) =>
  String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const status = (text) => {
  $('status').textContent = text;
};

/** An IEEE half float from its 16 bits. */
function f16(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

function hslHex(h, s, l) {
  s /= 100;
  l /= 100;
  const k = (n) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  const hex = (v) => Math.round(v * 255).toString(16).padStart(2, '0');
  return `#${hex(f(0))}${hex(f(8))}${hex(f(4))}`;
}

/** The report's topic colours (`report::colour`): golden-angle hues, two lightnesses. */
const topicColour = (i) => hslHex((i * 137.508) % 360, 65, i % 2 === 0 ? 45 : 58);
/** Months from old (blue) to new (orange). */
const monthColour = (t) => hslHex(220 - 190 * t, 70, 45 + 10 * t);

async function json(url, options) {
  const r = await fetch(url, options);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${url}: HTTP ${r.status}`);
  return body;
}

function decode(buf) {
  const view = new DataView(buf);
  const magic = String.fromCharCode(...new Uint8Array(buf, 0, 4));
  if (magic !== 'PMAP' || view.getUint32(4, true) !== 1) throw new Error('not a papermap point file');
  const n = view.getUint32(8, true);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const topic = new Float32Array(n);
  const month = new Float32Array(n);
  for (let i = 0, o = 12; i < n; i++, o += 8) {
    x[i] = f16(view.getUint16(o, true)) * 2 - 1;
    y[i] = 1 - f16(view.getUint16(o + 2, true)) * 2;
    topic[i] = view.getUint16(o + 4, true);
    month[i] = view.getUint16(o + 6, true);
  }
  return { n, x, y, topic, month };
}

/** Points drawn at first: a hardware GPU draws this many at 60 frames a second. */
const START_BUDGET = 250000;
/** The fewest points a slow browser's budget falls to. */
const MIN_BUDGET = 25000;
/** Median frame intervals (ms) past which the budget shrinks, and under which it doubles. */
const SLOW_FRAME_MS = 60;
const FAST_FRAME_MS = 20;

/** Point size (px) for `n` points drawn: smaller as they crowd. */
const pointSize = (n) => (n > 200000 ? 2 : n > 20000 ? 3 : 6);

/** A fixed pseudo-random order of `n` rows (xorshift32, Fisher-Yates): its prefixes are even samples. */
function shuffled(n) {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let s = 0x9e3779b9;
  for (let i = n - 1; i > 0; i--) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const j = (s >>> 0) % (i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Rows whose point lies in `polygon` ([x, y, x, y, …], data space), by the non-zero winding rule. */
function rowsInPolygon(pts, polygon) {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < polygon.length; i += 2) {
    x0 = Math.min(x0, polygon[i]);
    x1 = Math.max(x1, polygon[i]);
    y0 = Math.min(y0, polygon[i + 1]);
    y1 = Math.max(y1, polygon[i + 1]);
  }
  const rows = [];
  for (let r = 0; r < pts.n; r++) {
    const px = pts.x[r];
    const py = pts.y[r];
    if (px < x0 || px > x1 || py < y0 || py > y1) continue;
    let winding = 0;
    for (let i = 0, j = polygon.length - 2; i < polygon.length; j = i, i += 2) {
      const [ax, ay, bx, by] = [polygon[i], polygon[i + 1], polygon[j], polygon[j + 1]];
      const cross = (bx - ax) * (py - ay) - (px - ax) * (by - ay);
      if (ay <= py) {
        if (by > py && cross > 0) winding++;
      } else if (by <= py && cross < 0) {
        winding--;
      }
    }
    if (winding !== 0) rows.push(r);
  }
  return rows;
}

/** The median of `values` (not empty). */
const median = (values) => values.slice().sort((a, b) => a - b)[values.length >> 1];

async function main() {
  const state = window.papermapMap;
  status('loading the map…');
  const [meta, buf] = await Promise.all([
    json('/api/map'),
    fetch('/api/map/points').then((r) => {
      if (!r.ok) throw new Error(`points: HTTP ${r.status}`);
      return r.arrayBuffer();
    }),
  ]);
  const pts = decode(buf);
  const canvas = $('canvas');
  const big = pts.n > 500000;
  const sp = createScatterplot({
    canvas,
    width: 'auto',
    height: 'auto',
    pointSize: pointSize(pts.n),
    pointSizeSelected: 4,
    pointOutlineWidth: 3,
    opacity: big ? 1 : 0.85,
    performanceMode: big,
    backgroundColor: [1, 1, 1, 1],
    pointColorActive: [1, 0.55, 0, 1],
    // With a selection (a lasso, a search), the other points fade so the selected ones stand out.
    opacityInactiveScale: 0.25,
    pointColorHover: [0, 0, 0, 1],
    lassoColor: [0.1, 0.3, 0.8, 1],
  });
  const topicColours = meta.topics.map((_, i) => topicColour(i));
  const monthColours = meta.months.map((_, i) => monthColour(meta.months.length > 1 ? i / (meta.months.length - 1) : 0));
  sp.set({ colorBy: 'valueA', pointColor: topicColours });
  await sp.draw(
    { x: pts.x, y: pts.y, valueA: pts.topic, valueB: pts.month },
    { zDataType: 'categorical', wDataType: 'categorical' },
  );

  // ---- data to screen, for labels and tests
  const screenOf = (px, py) => {
    const v = sp.get('cameraView');
    const { width, height } = canvas.getBoundingClientRect();
    const cx = (v[0] * px + v[4] * py + v[12]) / (width / height);
    const cy = v[1] * px + v[5] * py + v[13];
    return [((cx + 1) / 2) * width, ((1 - cy) / 2) * height];
  };
  const pointScreen = (i) => screenOf(pts.x[i], pts.y[i]);

  // ---- level of detail: at most `budget` points drawn, an even sample of those near the view
  const fixedBudget = Number(new URLSearchParams(location.search).get('budget')) || 0;
  const lod = { budget: fixedBudget || START_BUDGET, drawn: pts.n, frames: [], choices: 0, chooseMs: 0, settles: 0, moving: false, view: null };
  let order = null;
  /** The data-space box the canvas shows, widened by `margin` of its size on every side. */
  const viewBox = (margin) => {
    const v = sp.get('cameraView');
    const { width, height } = canvas.getBoundingClientRect();
    const [ax, ay] = [(1 + 2 * margin) * (width / height), 1 + 2 * margin];
    const xs = [(-ax - v[12]) / v[0], (ax - v[12]) / v[0]];
    const ys = [(-ay - v[13]) / v[5], (ay - v[13]) / v[5]];
    return [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  };
  const showCount = () =>
    status(
      `${pts.n.toLocaleString()} papers · ${meta.topics.length} topics` +
        (lod.drawn < pts.n ? ` · drawing ${lod.drawn.toLocaleString()} near the view` : ''),
    );
  /** Notes that `n` points are drawn: their size, and the status line when the count changed
   * (not at every frame, which also wrote over a search's message). */
  const drawing = (n) => {
    sp.set({ pointSize: pointSize(n) });
    if (n === lod.drawn) return;
    lod.drawn = n;
    showCount();
  };
  /** Draws the first `budget` rows of the fixed order that lie near the view, plus `keep` and the selection. */
  const choose = async (keep = []) => {
    lod.view = Array.from(sp.get('cameraView'));
    if (pts.n <= lod.budget) {
      if (lod.drawn < pts.n) await sp.unfilter({ preventEvent: true });
      drawing(pts.n);
      return;
    }
    const t0 = performance.now();
    order ??= shuffled(pts.n);
    const [x0, x1, y0, y1] = viewBox(0.5);
    const extra = [...keep, ...sp.get('selectedPoints')];
    const picked = new Uint32Array(lod.budget + extra.length);
    let m = 0;
    for (let k = 0; k < pts.n && m < lod.budget; k++) {
      const r = order[k];
      const x = pts.x[r];
      const y = pts.y[r];
      if (x >= x0 && x <= x1 && y >= y0 && y <= y1) picked[m++] = r;
    }
    for (const r of extra) picked[m++] = r;
    const sorted = picked.subarray(0, m).sort();
    const rows = [];
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) rows.push(sorted[i]);
    await sp.filter(rows, { preventEvent: true });
    drawing(rows.length);
    lod.choices += 1;
    lod.chooseMs = performance.now() - t0;
  };
  // Frame intervals while the view moves: a browser that draws slowly gets a smaller budget
  // when the view settles, one that draws fast a larger one (up to every point).
  let lastDraw = 0;
  sp.subscribe('draw', () => {
    const now = performance.now();
    if (now - lastDraw < 1000) lod.frames.push(now - lastDraw);
    if (lod.frames.length > 60) lod.frames.shift();
    lastDraw = now;
  });
  let settling = 0;
  // Counts view events, so a settle whose choice was overtaken by a later move leaves
  // `moving` set: that move's own settle is still to come.
  let moves = 0;
  sp.subscribe('view', () => {
    lod.moving = true;
    moves += 1;
    clearTimeout(settling);
    settling = setTimeout(async () => {
      const at = moves;
      if (!fixedBudget && lod.frames.length >= 10) {
        const ms = median(lod.frames);
        // Frame time is a fixed cost plus a cost per point, so shrink by the square of the excess.
        const shrink = Math.max(0.25, (SLOW_FRAME_MS / ms) ** 2);
        if (ms > SLOW_FRAME_MS && lod.drawn >= lod.budget)
          lod.budget = Math.max(MIN_BUDGET, Math.round(lod.budget * shrink));
        else if (ms < FAST_FRAME_MS && lod.budget < pts.n) lod.budget = Math.min(pts.n, lod.budget * 2);
      }
      lod.frames = [];
      await choose();
      lod.settles += 1;
      if (at === moves) lod.moving = false;
    }, 250);
  });
  await choose();

  // ---- labels by zoom: the hierarchy's coarser levels when far, the topics when near
  const levels = [...meta.levels.map((l) => l.groups), meta.topics];
  const labels = $('labels');
  let shownLevel = -1;
  const placeLabels = () => {
    const zoom = 1 / sp.get('cameraDistance');
    const level = Math.min(levels.length - 1, zoom < 1.6 ? 0 : zoom < 3.5 ? 1 : 2);
    if (level !== shownLevel) {
      shownLevel = level;
      labels.innerHTML = levels[level]
        .map((g, i) => `<span class="label level-${level}" data-i="${i}">${esc(g.label)}</span>`)
        .join('');
    }
    const { width, height } = canvas.getBoundingClientRect();
    // Largest groups first; a label that would overlap one already placed is hidden, so the
    // labels shown stay legible however many groups crowd the view.
    const placed = [];
    const els = [...labels.children].sort(
      (a, b) => levels[level][+b.dataset.i].size - levels[level][+a.dataset.i].size,
    );
    for (const el of els) {
      const g = levels[level][+el.dataset.i];
      const [sx, sy] = screenOf(g.x * 2 - 1, 1 - g.y * 2);
      el.style.transform = `translate(${sx}px, ${sy}px) translate(-50%, -50%)`;
      el.dataset.w ||= el.offsetWidth;
      el.dataset.h ||= el.offsetHeight;
      const [w, h] = [+el.dataset.w / 2 + 2, +el.dataset.h / 2];
      const box = [sx - w, sy - h, sx + w, sy + h];
      const inside = sx > -50 && sy > -20 && sx < width + 50 && sy < height + 20;
      const free = !placed.some((p) => box[0] < p[2] && p[0] < box[2] && box[1] < p[3] && p[1] < box[3]);
      el.style.display = inside && free ? '' : 'none';
      if (inside && free) placed.push(box);
    }
  };
  sp.subscribe('view', placeLabels);
  placeLabels();

  // ---- hover: title, date and topic
  const tooltip = $('tooltip');
  let mouse = [0, 0];
  let hovered = -1;
  canvas.addEventListener('mousemove', (e) => {
    const r = canvas.getBoundingClientRect();
    mouse = [e.clientX - r.left, e.clientY - r.top];
  });
  sp.subscribe('pointOver', async (i) => {
    hovered = i;
    const p = await json(`/api/map/rows/${i}`);
    if (hovered !== i) return;
    tooltip.innerHTML =
      `<b>${esc(p.title)}</b><br><span class="muted">${esc(p.date || '')}` +
      `${p.topic ? ' · ' + esc(p.topic.label) : ''}</span>`;
    tooltip.style.transform = `translate(${mouse[0] + 12}px, ${mouse[1] + 12}px)`;
    tooltip.hidden = false;
  });
  sp.subscribe('pointOut', () => {
    hovered = -1;
    tooltip.hidden = true;
  });

  // ---- selection: a click opens the paper; a lasso lists what it caught
  let lasso = false;
  sp.subscribe('lassoStart', () => {
    lasso = true;
  });
  const selected = $('selected');
  const listRows = async (rows) => {
    $('selected-count').textContent = rows.length ? `${rows.length}` : '';
    const shown = await Promise.all(rows.slice(0, 50).map((r) => json(`/api/map/rows/${r}`)));
    selected.innerHTML = shown.map(paperItem).join('');
  };
  sp.subscribe('lassoEnd', async ({ coordinates }) => {
    // The lasso catches only drawn points; with a sample drawn, it lists every paper inside.
    if (lod.drawn === pts.n) return;
    state.selected = rowsInPolygon(pts, coordinates.flat());
    await listRows(state.selected);
  });
  sp.subscribe('select', async ({ points }) => {
    const fromLasso = lasso;
    lasso = false;
    if (fromLasso && lod.drawn < pts.n) return;
    state.selected = points;
    await listRows(points);
    if (!fromLasso && points.length === 1) {
      const p = await json(`/api/map/rows/${points[0]}`);
      window.open(`/papers/${encodeURIComponent(p.arxiv_id)}`, '_blank');
    }
  });
  sp.subscribe('deselect', () => {
    state.selected = [];
    selected.innerHTML = '';
    $('selected-count').textContent = '';
  });

  // ---- search highlights its results
  $('search').addEventListener('submit', async (e) => {
    e.preventDefault();
    const q = $('q').value.trim();
    if (!q) {
      sp.deselect();
      return;
    }
    status(`searching “${q}”…`);
    try {
      // The best results, not the whole ranking: a tenth of a small map, 100 of a large one.
      const k = Math.max(5, Math.min(100, Math.floor(pts.n / 10)));
      const r = await json(`/api/search?q=${encodeURIComponent(q)}&k=${k}`);
      state.highlighted = r.results.map((h) => h.row);
      sp.deselect({ preventEvent: true });
      await choose(state.highlighted);
      sp.select(state.highlighted, { preventEvent: true });
      // Results out of sight: the view moves to show them all.
      const { width, height } = canvas.getBoundingClientRect();
      const hidden = state.highlighted.some((r) => {
        const [x, y] = pointScreen(r);
        return x < 0 || y < 0 || x > width || y > height;
      });
      if (hidden && state.highlighted.length) {
        await sp.zoomToPoints(state.highlighted, { padding: 0.3, transition: true, transitionDuration: 400 });
      }
      await listRows(state.highlighted);
      status(`${state.highlighted.length} papers for “${q}” highlighted`);
    } catch (err) {
      status(err.message);
    }
  });

  // ---- colour by topic or by month
  $('colour').addEventListener('change', (e) => {
    const month = e.target.value === 'month';
    sp.set({ colorBy: month ? 'valueB' : 'valueA', pointColor: month ? monthColours : topicColours });
  });

  // ---- the library: marks, and recommendations from them
  document.body.addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-mark]');
    if (!b) return;
    const mark = b.dataset.mark === 'none' ? null : b.dataset.mark;
    await json('/api/library', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: b.dataset.id, mark }),
    });
    await refreshLibrary();
  });
  await refreshLibrary();

  /** Frame times (ms) of `count` frames while the view pans and zooms: the frame-time bench. */
  const measureFrames = (count) =>
    new Promise((resolve) => {
      const v0 = Array.from(sp.get('cameraView'));
      const times = [];
      let last = performance.now();
      let i = 0;
      const step = () => {
        const now = performance.now();
        if (i > 0) times.push(now - last);
        last = now;
        if (i++ >= count) {
          sp.set({ cameraView: v0 });
          resolve(times);
          return;
        }
        const v = v0.slice();
        const zoom = 1 + 2 * Math.sin(i / 25) ** 2;
        v[0] = v0[0] * zoom;
        v[5] = v0[5] * zoom;
        v[12] = v0[12] + 0.4 * Math.sin(i / 10);
        v[13] = v0[13] + 0.4 * Math.cos(i / 13);
        sp.set({ cameraView: v });
        requestAnimationFrame(step);
      };
      requestAnimationFrame(step);
    });
  Object.assign(state, { n: pts.n, scatterplot: sp, pointScreen, measureFrames, labelsShown: () => shownLevel, lod, points: pts, rowsInPolygon });
  showCount();
  $('status').title = meta.method;
  state.ready = true;
}

function paperItem(p) {
  const id = esc(p.arxiv_id);
  return (
    `<li><a href="/papers/${encodeURIComponent(p.arxiv_id)}" target="_blank">${esc(p.title)}</a>` +
    ` <span class="muted">${esc(p.date || '')}</span>` +
    `<span class="marks"><button data-mark="like" data-id="${id}">like</button>` +
    `<button data-mark="save" data-id="${id}">save</button>` +
    `<button data-mark="hide" data-id="${id}" title="not interested">hide</button></span></li>`
  );
}

async function refreshLibrary() {
  const lib = await json('/api/library');
  $('library').innerHTML = lib.papers
    .map(
      (p) =>
        `<li><span class="mark ${esc(p.mark)}">${esc(p.mark)}</span> ` +
        `<a href="/papers/${encodeURIComponent(p.id)}" target="_blank">${esc(p.title || p.id)}</a>` +
        ` <button data-mark="none" data-id="${esc(p.id)}">remove</button></li>`,
    )
    .join('');
  const forYou = $('for-you');
  try {
    const r = await json('/api/recommend?k=10');
    forYou.innerHTML = r.recommendations
      .map(
        (p) =>
          paperItem(p).replace(
            '</li>',
            `<div class="muted near">near ${esc(p.near[0] ? p.near[0].title : '')}</div></li>`,
          ),
      )
      .join('');
  } catch (err) {
    forYou.innerHTML = `<li class="muted">${esc(err.message)}</li>`;
  }
  window.papermapMap.library = lib;
}

// Tests and the frame-time bench read this: `ready`, the point count, where a point is drawn.
window.papermapMap = { ready: false, highlighted: [], selected: [] };
main().catch((err) => {
  status(`the map could not be drawn: ${err.message}`);
  window.papermapMap.error = err.message;
});
