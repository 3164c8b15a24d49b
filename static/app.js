// Moving object: draws the walk that the server streams as Server-Sent
// Events, and shows the stream itself: its state, numbers and raw events.
//
// The page reads everything it needs from the canvas: the stream's URL
// (data-events-url) and the box (width, height). No inline script, so the
// page runs under a strict Content-Security-Policy.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);

  // The footer shows how to watch this very stream from a terminal.
  const board = $('board');
  const curl = $('curl');
  if (curl) curl.textContent = "curl -N '" + new URL(board ? board.dataset.eventsUrl : '/events', location.href) + "'";

  if (typeof window.EventSource !== 'function') {
    $('unsupported').hidden = false;
    for (const el of document.querySelectorAll('[data-needs-sse]')) el.hidden = true;
    return;
  }
  if (!board) return; // the page shows a refused parameter instead

  const TRAIL = 600; // positions kept for the fading trail
  const TRAIL_RUNS = 30; // steps of its fading
  const LOG_SIZE = 20; // events kept in the log
  const RATE_WINDOW = 2000; // ms of arrivals that moves per second counts
  const PANEL_EVERY = 200; // ms between updates of the numbers
  const GLIDE_MAX = 250; // ms: the dot glides at most this long per move
  const BACKOFF_BASE = 500; // ms: first delay of the page's own reconnection
  const BACKOFF_CAP = 15000; // ms: its longest delay

  const ctx = board.getContext('2d');
  const out = {
    state: $('state'), seq: $('seq'), pos: $('pos'), rate: $('rate'),
    delay: $('delay'), resumes: $('resumes'), seed: $('seed'),
    announce: $('announce'), log: $('log'),
  };
  const btnDisconnect = $('disconnect');
  const btnConnect = $('connect');

  let source = null; // the current EventSource
  let lastId = ''; // the last event id: the walk's resume token
  let attempt = 0; // reconnections since the last open, for the backoff
  let retryTimer = 0;
  let state = '';
  let resumes = 0;
  let intervalMs = 100;
  let last = null; // the last position: seq, x, y, delay (null for none yet)
  const arrivals = []; // performance.now() of recent moves
  const trail = []; // recent positions, oldest first
  let from = null; // where the dot glides from
  let to = null; // where it glides to: the latest position
  let glideStart = 0;
  let dirty = true; // the canvas needs drawing
  let lastPanel = 0;
  let pendingLog = []; // entries not yet in the DOM, oldest first

  // --- the stream ---------------------------------------------------------

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (source) source.close();
    const url = new URL(board.dataset.eventsUrl, location.href);
    if (lastId) url.searchParams.set('lastEventId', lastId);
    const es = new EventSource(url.pathname + url.search);
    source = es;
    setState(attempt > 0 ? 'reconnecting' : 'connecting');
    note('new EventSource(' + JSON.stringify(url.pathname + url.search) + ')');

    es.addEventListener('open', () => {
      if (es !== source) return;
      attempt = 0;
      setState('open');
      note('open: readyState OPEN');
    });
    es.addEventListener('error', () => {
      if (es !== source) return;
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
        setState('reconnecting');
      }
    });
    es.addEventListener('init', (e) => {
      if (es !== source) return;
      const d = JSON.parse(e.data);
      lastId = e.lastEventId;
      intervalMs = d.interval_ms;
      if (d.resumed) {
        resumes++;
      } else {
        trail.length = 0; // a new walk: the old path means nothing
        arrivals.length = 0;
        from = null; // and the dot jumps to its start
        to = null;
      }
      last = { seq: d.seq, x: d.x, y: d.y, delay: last ? last.delay : null };
      out.seed.textContent = String(d.seed);
      place(d);
      // EventSource keeps the retry field to itself; init repeats it.
      if (d.retry_ms !== undefined) pushLog('event', [['retry', String(d.retry_ms)]]);
      logEvent(e);
    });
    es.addEventListener('move', (e) => {
      if (es !== source) return;
      const d = JSON.parse(e.data);
      lastId = e.lastEventId;
      const now = performance.now();
      arrivals.push(now);
      trimArrivals(now); // also while the tab is hidden and frames stop
      last = { seq: d.seq, x: d.x, y: d.y, delay: Date.now() - d.ts };
      place(d);
      logEvent(e);
    });
  }

  function scheduleReconnect() {
    const ceiling = Math.min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt);
    const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
    attempt++;
    setState('reconnecting');
    note('new EventSource in ' + delay + ' ms (attempt ' + attempt + ')');
    retryTimer = setTimeout(connect, delay);
  }

  function disconnect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (source) source.close();
    source = null;
    attempt = 0;
    setState('closed');
    note('close(): readyState CLOSED');
  }

  const spoken = {
    open: 'Connected: the object is moving.',
    reconnecting: 'Connection lost: reconnecting.',
    closed: 'Disconnected.',
  };

  function setState(s) {
    if (s === state) return;
    state = s;
    out.state.textContent = s;
    out.state.dataset.state = s;
    btnDisconnect.disabled = s === 'closed';
    btnConnect.disabled = s !== 'closed';
    if (spoken[s]) out.announce.textContent = spoken[s];
  }

  btnDisconnect.addEventListener('click', disconnect);
  btnConnect.addEventListener('click', () => {
    attempt = 0;
    connect();
  });

  // --- the log ------------------------------------------------------------

  function logEvent(e) {
    pushLog('event', [['id', e.lastEventId], ['event', e.type], ['data', e.data]]);
  }

  function note(text) {
    pushLog('note', text);
  }

  // pushLog queues an entry: an event's fields as [name, value] pairs, or
  // a note's text.
  function pushLog(kind, content) {
    pendingLog.push({ kind, content });
    if (pendingLog.length > LOG_SIZE) pendingLog = pendingLog.slice(-LOG_SIZE);
  }

  function flushLog() {
    if (pendingLog.length === 0) return;
    const frag = document.createDocumentFragment();
    for (let i = pendingLog.length - 1; i >= 0; i--) {
      const li = document.createElement('li');
      li.className = pendingLog[i].kind;
      const pre = document.createElement('pre');
      const { content } = pendingLog[i];
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
    pendingLog = [];
    out.log.prepend(frag);
    while (out.log.children.length > LOG_SIZE) out.log.lastElementChild.remove();
  }

  // --- the numbers --------------------------------------------------------

  function trimArrivals(now) {
    while (arrivals.length > 0 && arrivals[0] < now - RATE_WINDOW) arrivals.shift();
  }

  // showMove shows the latest move; it runs once a frame at most.
  function showMove() {
    if (last) {
      const seq = String(last.seq);
      out.seq.textContent = seq;
      // The shared world counts moves since its start: keep them on one line.
      out.seq.classList.toggle('long', seq.length > 7);
      if (last.delay !== null) out.delay.textContent = last.delay + ' ms';
    }
    if (to) out.pos.textContent = to.x + ', ' + to.y;
  }

  // updatePanel shows the slower figures a few times a second.
  function updatePanel(now) {
    trimArrivals(now);
    let rate = 0;
    if (arrivals.length > 1) {
      const span = Math.max(arrivals[arrivals.length - 1] - arrivals[0], now - arrivals[arrivals.length - 1]);
      rate = (arrivals.length - 1) / (span / 1000);
    }
    out.rate.textContent = rate >= 10 ? String(Math.round(rate)) : rate.toFixed(1);
    out.resumes.textContent = String(resumes);
  }

  // --- the drawing --------------------------------------------------------

  // place moves the dot to p: it glides there from where it is now, for at
  // most one tick, so that the drawing stays smooth at any tick rate.
  function place(p) {
    const now = performance.now();
    from = current(now);
    to = { x: p.x, y: p.y };
    glideStart = now;
    const end = trail[trail.length - 1];
    if (!end || end.x !== p.x || end.y !== p.y) trail.push(to);
    if (trail.length > TRAIL) trail.shift();
    dirty = true;
  }

  const still = window.matchMedia('(prefers-reduced-motion: reduce)');
  function glideMs() {
    return still.matches ? 0 : Math.min(intervalMs, GLIDE_MAX);
  }

  function current(now) {
    if (!to) return null;
    if (!from || glideMs() <= 0) return to;
    const k = Math.min(1, (now - glideStart) / glideMs());
    return { x: from.x + (to.x - from.x) * k, y: from.y + (to.y - from.y) * k };
  }

  let colors = null;
  const dark = window.matchMedia('(prefers-color-scheme: dark)');
  function readColors() {
    const css = getComputedStyle(board);
    const v = (name) => css.getPropertyValue(name).trim();
    colors = { box: v('--box'), grid: v('--grid'), dot: v('--dot'), trail: v('--trail'), glow: v('--glow') };
    dirty = true;
  }
  dark.addEventListener('change', readColors);

  const w = board.width;
  const h = board.height;
  // Scale with the page, keeping the box's aspect, and never taller than
  // most of the window.
  board.style.width = 'min(100%, ' + (78 * w / h).toFixed(2) + 'vh)';
  // Sizes of the drawing are in CSS pixels, so that the dot and its trail
  // look the same whether the box is shown shrunk (on a phone) or grown.
  let scale = 1; // CSS pixels per box pixel
  function rescale() {
    scale = board.clientWidth / w || 1;
    dirty = true;
  }
  if (typeof window.ResizeObserver === 'function') {
    new ResizeObserver(rescale).observe(board);
  } else {
    window.addEventListener('resize', rescale);
    rescale();
  }
  const cell = gridCell(Math.max(w, h));

  // gridCell picks a round grid spacing giving about 16 cells along the box.
  function gridCell(size) {
    const raw = size / 16;
    const pow = 10 ** Math.floor(Math.log10(raw));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (raw <= m * pow) return m * pow;
    }
    return 10 * pow;
  }

  function draw(now) {
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
    const pts = trail.slice();
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
    ctx.fillStyle = colors.dot;
    ctx.beginPath();
    ctx.arc(cur.x, cur.y, radius, 0, 2 * Math.PI);
    ctx.fill();
  }

  function frame(now) {
    requestAnimationFrame(frame);
    if (dirty || (from && now - glideStart < glideMs() + 20)) {
      dirty = false;
      draw(now);
      showMove();
    }
    if (now - lastPanel >= PANEL_EVERY) {
      lastPanel = now;
      updatePanel(now);
    }
    flushLog();
  }

  readColors();
  connect();
  requestAnimationFrame(frame);
})();
