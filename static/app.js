// Moving object: draws the walk that the server streams as Server-Sent
// Events, and shows the stream itself: its state, numbers and raw events.
//
// The page reads everything it needs from the canvas: the stream's URL
// (data-events-url) and the box (width, height). It is an ES module with no
// inline script, so the page runs under a strict Content-Security-Policy.
//
// All that changes lives in one object, state. Event handlers only change
// state and call requestRender; render, on an animation frame, is the one
// function that writes the DOM (the canvas included). The frames stop
// while nothing moves and while the tab is hidden.

const TRAIL = 600; // positions kept for the fading trail
const TRAIL_RUNS = 30; // steps of its fading
const LOG_SIZE = 20; // events kept in the log
const RATE_WINDOW = 2000; // ms of arrivals that moves per second counts
const PANEL_EVERY = 200; // ms between updates of the slower numbers
const GLIDE_MAX = 250; // ms: the dot glides at most this long per move
const BACKOFF_BASE = 500; // ms: first delay of the page's own reconnection
const BACKOFF_CAP = 15000; // ms: its longest delay
const FLASH_MS = 600; // ms: how long a move that carried a push flashes

const $ = (id) => document.getElementById(id);

const board = $('board');
const el = {
  unsupported: $('unsupported'),
  state: $('state'), seq: $('seq'), pos: $('pos'), rate: $('rate'),
  delay: $('delay'), resumes: $('resumes'), seed: $('seed'),
  announce: $('announce'), log: $('log'),
  disconnect: $('disconnect'), connect: $('connect'),
  // The play room's (absent elsewhere).
  viewers: $('viewers'), lastpush: $('lastpush'),
};

const spoken = {
  open: 'Connected: the object is moving.',
  reconnecting: 'Connection lost: reconnecting.',
  closed: 'Disconnected.',
};

const still = window.matchMedia('(prefers-reduced-motion: reduce)');
const dark = window.matchMedia('(prefers-color-scheme: dark)');

// state is everything about the page that changes.
const state = {
  supported: typeof window.EventSource === 'function',
  stream: {
    source: null, // the current EventSource
    lastId: '', // the last event id: the walk's resume token
    attempt: 0, // reconnections since the last open, for the backoff
    retryTimer: 0,
    status: '', // connecting, open, reconnecting or closed
    announce: '', // what screen readers were last told
    resumes: 0,
    seed: null,
    intervalMs: 100,
  },
  walk: {
    last: null, // the last position: seq, x, y, delay (null for none yet)
    arrivals: [], // performance.now() of recent moves
    trail: [], // recent positions, oldest first
    from: null, // where the dot glides from
    to: null, // where it glides to: the latest position
    glideStart: 0,
  },
  log: [], // entries not yet in the DOM, oldest first
  play: {
    viewers: null, // the room's viewers, from its viewers events
    lastPush: null, // the last push a move carried: id, dir, seq
    flashStart: -Infinity, // when the last move that carried a push came
  },
  view: {
    box: board ? { w: board.width, h: board.height } : null, // the walk's box, px
    cell: 0, // grid spacing, box px
    colors: null,
    css: { w: 0, h: 0 }, // the canvas's displayed size, CSS px (0: not measured yet)
    device: { w: 0, h: 0 }, // the same in device pixels: the backing store it needs
    dpr: 0, // the devicePixelRatio that device was measured with
    dirty: true, // the canvas needs drawing
    lastPanel: -Infinity, // when the slower numbers were last shown
  },
  loop: {
    frame: 0, // id of the requested animation frame, 0 for none
    panelTimer: 0, // wakes the panel while moves per second decays
  },
};

// --- the render step ------------------------------------------------------

// requestRender asks for one frame, unless one is due or the tab is hidden.
function requestRender() {
  if (state.loop.frame !== 0 || document.visibilityState === 'hidden') return;
  state.loop.frame = requestAnimationFrame(frame);
}

function frame(now) {
  // A change of ratio that no event told of (emulators send none).
  if (state.view.dpr !== (window.devicePixelRatio || 1)) resized(null);
  trimArrivals(now);
  state.loop.frame = 0;
  render(now);
  if (state.view.dirty && drawable()) {
    requestRender(); // the dot is on its way
  } else if (state.walk.arrivals.length > 0 && state.loop.panelTimer === 0) {
    // Nothing moves, but moves per second still falls to 0: a few
    // frames a second until it has.
    state.loop.panelTimer = setTimeout(() => {
      state.loop.panelTimer = 0;
      requestRender();
    }, PANEL_EVERY);
  }
}

// render copies state into the DOM: the only function that writes it.
function render(now) {
  if (!state.supported) {
    el.unsupported.hidden = false;
    for (const section of document.querySelectorAll('[data-needs-sse]')) section.hidden = true;
    return;
  }
  if (!board) return; // the page shows a refused parameter instead
  const { stream, walk, view } = state;

  const s = stream.status;
  setText(el.state, s);
  el.state.dataset.state = s;
  el.disconnect.disabled = s === 'closed';
  el.connect.disabled = s !== 'closed';
  setText(el.announce, stream.announce);
  if (stream.seed !== null) setText(el.seed, String(stream.seed));

  if (walk.last) {
    const seq = String(walk.last.seq);
    setText(el.seq, seq);
    // The shared world counts moves since its start: keep them on one line.
    el.seq.classList.toggle('long', seq.length > 7);
    if (walk.last.delay !== null) setText(el.delay, walk.last.delay + ' ms');
  }
  if (walk.to) setText(el.pos, walk.to.x + ', ' + walk.to.y);
  // The slower numbers, a few times a second; and once more when the
  // last arrival leaves the window, as no frame may follow.
  if (now - view.lastPanel >= PANEL_EVERY || walk.arrivals.length === 0) {
    view.lastPanel = now;
    setText(el.rate, formatRate(rate(now)));
    setText(el.resumes, String(stream.resumes));
  }

  renderLog();
  if (el.viewers && state.play.viewers !== null) setText(el.viewers, String(state.play.viewers));
  if (el.lastpush && state.play.lastPush) {
    const p = state.play.lastPush;
    setText(el.lastpush, p.dir + ' at ' + p.seq);
    el.lastpush.dataset.id = p.id;
  }

  // Scale with the page, keeping the box's aspect, and never taller than
  // most of the window; the backing store follows in device pixels. The
  // box stays the same for the page's life.
  if (board.style.aspectRatio === '') {
    const { w, h } = view.box;
    board.style.width = 'min(100%, ' + (78 * w / h).toFixed(2) + 'vh)';
    board.style.aspectRatio = w + ' / ' + h;
  }
  if (!drawable()) return;
  if (board.width !== view.device.w || board.height !== view.device.h) {
    board.width = view.device.w; // clears the canvas
    board.height = view.device.h;
    view.dirty = true;
  }
  if (view.dirty) {
    draw(board.getContext('2d'), now);
    view.dirty = gliding(now) || flashing(now); // drawn on its way: draw it again
  }
}

// setText sets an element's text when it differs, so that a live region
// speaks only of changes.
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function renderLog() {
  if (state.log.length === 0) return;
  const frag = document.createDocumentFragment();
  for (let i = state.log.length - 1; i >= 0; i--) {
    const { kind, content } = state.log[i];
    const li = document.createElement('li');
    li.className = kind;
    const pre = document.createElement('pre');
    if (typeof content === 'string') {
      pre.textContent = content;
    } else {
      // One line per field, as on the wire: "name: value".
      content.forEach(([name, value], n) => {
        const key = document.createElement('span');
        key.className = 'field-name';
        key.textContent = name + ':';
        const val = document.createElement('span');
        val.className = 'field-' + name;
        val.textContent = ' ' + value;
        pre.append(n > 0 ? '\n' : '', key, val);
      });
    }
    li.appendChild(pre);
    frag.appendChild(li);
  }
  state.log = [];
  el.log.prepend(frag);
  while (el.log.children.length > LOG_SIZE) el.log.lastElementChild.remove();
}

// draw paints the box, the trail and the dot: render's canvas part. It
// works in box pixels, scaled to the backing store, and sizes the dot and
// its trail in CSS pixels, so that they look the same whether the box is
// shown shrunk (on a phone) or grown, on any screen.
function draw(ctx, now) {
  const { box: { w, h }, cell, colors, css, device } = state.view;
  const scale = css.w / w || 1; // CSS pixels per box pixel
  ctx.setTransform(device.w / w, 0, 0, device.h / h, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = colors.box;
  ctx.fillRect(0, 0, w, h);

  ctx.beginPath();
  for (let x = cell; x < w; x += cell) {
    ctx.moveTo(x, 0);
    ctx.lineTo(x, h);
  }
  for (let y = cell; y < h; y += cell) {
    ctx.moveTo(0, y);
    ctx.lineTo(w, y);
  }
  ctx.strokeStyle = colors.grid;
  ctx.lineWidth = 1 / scale;
  ctx.stroke();

  const cur = current(now);
  if (!cur) return;
  // The trail fades from the dot back: drawn in a few runs of points,
  // each a little fainter, so that a long trail stays cheap to draw.
  const pts = state.walk.trail.slice();
  pts[pts.length - 1] = cur;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  const radius = 7 / scale;
  ctx.lineWidth = 2.2 / scale;
  ctx.strokeStyle = colors.trail;
  const end = pts.length - 1;
  for (let r = 0; r < TRAIL_RUNS; r++) {
    const i0 = Math.floor((r * end) / TRAIL_RUNS);
    const i1 = Math.floor(((r + 1) * end) / TRAIL_RUNS);
    if (i1 <= i0) continue;
    ctx.globalAlpha = ((r + 1) / TRAIL_RUNS) ** 1.8 * 0.9;
    ctx.beginPath();
    ctx.moveTo(pts[i0].x, pts[i0].y);
    for (let i = i0 + 1; i <= i1; i++) ctx.lineTo(pts[i].x, pts[i].y);
    ctx.stroke();
  }
  ctx.globalAlpha = 1;

  ctx.fillStyle = colors.glow;
  ctx.beginPath();
  ctx.arc(cur.x, cur.y, radius * 2.2, 0, 2 * Math.PI);
  ctx.fill();
  if (flashing(now)) {
    // A move that carried a push: a ring that grows and fades.
    const k = (now - state.play.flashStart) / FLASH_MS;
    ctx.globalAlpha = 1 - k;
    ctx.strokeStyle = colors.dot;
    ctx.lineWidth = 3 / scale;
    ctx.beginPath();
    ctx.arc(cur.x, cur.y, radius * (2 + 4 * k), 0, 2 * Math.PI);
    ctx.stroke();
    ctx.globalAlpha = 1;
  }
  ctx.fillStyle = colors.dot;
  ctx.beginPath();
  ctx.arc(cur.x, cur.y, radius, 0, 2 * Math.PI);
  ctx.fill();
}

// --- what state implies ---------------------------------------------------

// drawable reports whether the canvas can be drawn: measured, with colors.
function drawable() {
  const { device, colors } = state.view;
  return device.w > 0 && device.h > 0 && colors !== null;
}

function glideMs() {
  return still.matches ? 0 : Math.min(state.stream.intervalMs, GLIDE_MAX);
}

// flashing reports whether the last move that carried a push still
// flashes at now.
function flashing(now) {
  return !still.matches && now - state.play.flashStart < FLASH_MS;
}

// gliding reports whether the dot is still on its way at now.
function gliding(now) {
  const { from, to, glideStart } = state.walk;
  return from !== null && to !== null && now - glideStart < glideMs();
}

// current is where the dot is at now: part of the way from from to to,
// for at most one tick, so that the drawing stays smooth at any tick rate.
function current(now) {
  const { from, to, glideStart } = state.walk;
  if (!to) return null;
  if (!from || glideMs() <= 0) return to;
  const k = Math.min(1, (now - glideStart) / glideMs());
  return { x: from.x + (to.x - from.x) * k, y: from.y + (to.y - from.y) * k };
}

// rate is the moves per second of the arrivals kept.
function rate(now) {
  const a = state.walk.arrivals;
  if (a.length < 2) return 0;
  const span = Math.max(a[a.length - 1] - a[0], now - a[a.length - 1]);
  return (a.length - 1) / (span / 1000);
}

function formatRate(r) {
  return r >= 10 ? String(Math.round(r)) : r.toFixed(1);
}

function trimArrivals(now) {
  const a = state.walk.arrivals;
  while (a.length > 0 && a[0] < now - RATE_WINDOW) a.shift();
}

// gridCell picks a round grid spacing giving about 16 cells along the box.
function gridCell(size) {
  const raw = size / 16;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (raw <= m * pow) return m * pow;
  }
  return 10 * pow;
}

// --- the stream -----------------------------------------------------------

function connect() {
  const { stream } = state;
  clearTimeout(stream.retryTimer);
  stream.retryTimer = 0;
  if (stream.source) stream.source.close();
  const url = new URL(board.dataset.eventsUrl, location.href);
  if (stream.lastId) url.searchParams.set('lastEventId', stream.lastId);
  const es = new EventSource(url.pathname + url.search);
  stream.source = es;
  setStatus(stream.attempt > 0 ? 'reconnecting' : 'connecting');
  note('new EventSource(' + JSON.stringify(url.pathname + url.search) + ')');

  es.addEventListener('open', () => {
    if (es !== stream.source) return;
    stream.attempt = 0;
    setStatus('open');
    note('open: readyState OPEN');
  });
  es.addEventListener('error', () => {
    if (es !== stream.source) return;
    if (es.readyState === EventSource.CLOSED) {
      // A non-200 answer (say a proxy's 502 while the server restarts)
      // stops an EventSource for good: open a new one, later.
      note('error: readyState CLOSED, the browser gave up');
      es.close();
      scheduleReconnect();
    } else {
      // The browser reconnects by itself after the server's retry delay,
      // sending the last id as Last-Event-ID.
      note('error: readyState CONNECTING, the browser retries');
      setStatus('reconnecting');
    }
  });
  es.addEventListener('init', (e) => {
    if (es !== stream.source) return;
    const d = JSON.parse(e.data);
    const { walk } = state;
    stream.lastId = e.lastEventId;
    stream.intervalMs = d.interval_ms;
    stream.seed = d.seed;
    if (d.resumed) {
      stream.resumes++;
    } else {
      walk.trail.length = 0; // a new walk: the old path means nothing
      walk.arrivals.length = 0;
      walk.from = null; // and the dot jumps to its start
      walk.to = null;
    }
    walk.last = { seq: d.seq, x: d.x, y: d.y, delay: walk.last ? walk.last.delay : null };
    place(d);
    // EventSource keeps the retry field to itself; init repeats it.
    if (d.retry_ms !== undefined) pushLog('event', [['retry', String(d.retry_ms)]]);
    logEvent(e);
    requestRender();
  });
  es.addEventListener('move', (e) => {
    if (es !== stream.source) return;
    const d = JSON.parse(e.data);
    const now = performance.now();
    stream.lastId = e.lastEventId;
    state.walk.arrivals.push(now);
    trimArrivals(now); // also while the tab is hidden and frames stop
    state.walk.last = { seq: d.seq, x: d.x, y: d.y, delay: Date.now() - d.ts };
    place(d);
    if (d.pushes && d.pushes.length > 0) {
      // The play room: a move that applied visitors' pushes flashes, and
      // play.js hears of them for the round trip of its own.
      const p = d.pushes[d.pushes.length - 1];
      state.play.lastPush = { id: p.id, dir: p.dir, seq: d.seq };
      state.play.flashStart = now;
      board.dispatchEvent(new CustomEvent('pushes', { detail: { seq: d.seq, pushes: d.pushes, at: now } }));
    }
    logEvent(e);
    requestRender();
  });
  es.addEventListener('viewers', (e) => {
    if (es !== stream.source) return;
    state.play.viewers = JSON.parse(e.data).viewers;
    pushLog('event', [['event', e.type], ['data', e.data]]);
    requestRender();
  });
}

function scheduleReconnect() {
  const { stream } = state;
  const ceiling = Math.min(BACKOFF_CAP, BACKOFF_BASE * 2 ** stream.attempt);
  const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
  stream.attempt++;
  setStatus('reconnecting');
  note('new EventSource in ' + delay + ' ms (attempt ' + stream.attempt + ')');
  stream.retryTimer = setTimeout(connect, delay);
}

function disconnect() {
  const { stream } = state;
  clearTimeout(stream.retryTimer);
  stream.retryTimer = 0;
  if (stream.source) stream.source.close();
  stream.source = null;
  stream.attempt = 0;
  setStatus('closed');
  note('close(): readyState CLOSED');
}

// setStatus records the connection's state, and what to tell screen
// readers of a change.
function setStatus(s) {
  const { stream } = state;
  if (s === stream.status) return;
  stream.status = s;
  if (spoken[s]) stream.announce = spoken[s];
  requestRender();
}

// place moves the dot to p: it glides there from where it is now.
function place(p) {
  const { walk } = state;
  const now = performance.now();
  walk.from = current(now);
  walk.to = { x: p.x, y: p.y };
  walk.glideStart = now;
  const end = walk.trail[walk.trail.length - 1];
  if (!end || end.x !== p.x || end.y !== p.y) walk.trail.push(walk.to);
  if (walk.trail.length > TRAIL) walk.trail.shift();
  state.view.dirty = true;
}

// --- the log --------------------------------------------------------------

function logEvent(e) {
  pushLog('event', [['id', e.lastEventId], ['event', e.type], ['data', e.data]]);
}

function note(text) {
  pushLog('note', text);
  requestRender();
}

// pushLog queues an entry: an event's fields as [name, value] pairs, or
// a note's text.
function pushLog(kind, content) {
  state.log.push({ kind, content });
  if (state.log.length > LOG_SIZE) state.log = state.log.slice(-LOG_SIZE);
}

// --- the canvas's size and colors -----------------------------------------

function readColors() {
  const css = getComputedStyle(board);
  const v = (name) => css.getPropertyValue(name).trim();
  state.view.colors = { box: v('--box'), grid: v('--grid'), dot: v('--dot'), trail: v('--trail'), glow: v('--glow') };
  state.view.dirty = true;
  requestRender();
}

// resized records the canvas's displayed size, in CSS pixels and in
// device pixels (devicePixelRatio to a CSS pixel).
function resized(entry) {
  const { view } = state;
  const dpr = window.devicePixelRatio || 1;
  const box = entry && entry.contentBoxSize && entry.contentBoxSize[0];
  if (box) {
    view.css = { w: box.inlineSize, h: box.blockSize };
  } else {
    const r = board.getBoundingClientRect();
    view.css = { w: r.width, h: r.height };
  }
  view.device = { w: Math.round(view.css.w * dpr), h: Math.round(view.css.h * dpr) };
  view.dpr = dpr;
  view.dirty = true;
  requestRender();
}

// watchRatio calls resized when devicePixelRatio changes (a zoom, or the
// window moved to another screen), which changes no CSS size.
function watchRatio() {
  const mq = window.matchMedia('(resolution: ' + (window.devicePixelRatio || 1) + 'dppx)');
  mq.addEventListener('change', () => {
    resized(null);
    watchRatio();
  }, { once: true });
}

function observeSize() {
  if (typeof window.ResizeObserver !== 'function') {
    window.addEventListener('resize', () => resized(null));
    resized(null);
    return;
  }
  new ResizeObserver((entries) => resized(entries[entries.length - 1])).observe(board);
}

// --- start ------------------------------------------------------------------

function start() {
  if (!state.supported || !board) {
    render(performance.now());
    return;
  }
  const { box } = state.view;
  state.view.cell = gridCell(Math.max(box.w, box.h));

  el.disconnect.addEventListener('click', disconnect);
  el.connect.addEventListener('click', () => {
    state.stream.attempt = 0;
    connect();
  });
  dark.addEventListener('change', readColors);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      // No frames while nobody looks; the stream goes on filling state.
      cancelAnimationFrame(state.loop.frame);
      state.loop.frame = 0;
      clearTimeout(state.loop.panelTimer);
      state.loop.panelTimer = 0;
    } else {
      state.view.dirty = true;
      requestRender();
    }
  });

  // The first render sets the canvas's CSS size, which the observers
  // then measure.
  render(performance.now());
  observeSize();
  watchRatio();
  readColors();
  connect();
}

start();
