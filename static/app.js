// app.js runs the moving-object pages (/, /world and /play). It draws the
// walk that the server streams as Server-Sent Events. It also shows the
// stream itself, with its state, numbers and raw events.
//
// The page reads everything it needs from the canvas. The stream's URL is
// in data-events-url, and the box is the canvas's width and height. The
// script is an ES module with no inline script, so the page runs under a
// strict Content-Security-Policy.
//
// All that changes lives in one object, state. Event handlers only change
// state and call requestRender. render runs on an animation frame, and it
// is the one function that writes the DOM, the canvas included (through
// canvas.js). The frames stop while nothing moves. While the tab is hidden,
// the stream is closed too. It resumes from the last event id when the tab
// is shown.
//
// On /play the page also shows the room's viewers and the last push a move
// carried. It flashes that move (see paint in canvas.js), and tells play.js
// of it with a "pushes" event on the canvas.

import { newView, newWalk, clearWalk, place, paint, watch } from './canvas.js';

const LOG_SIZE = 20; // events kept in the log
const RATE_WINDOW = 2000; // ms of arrivals that moves per second counts
const PANEL_EVERY = 200; // ms between updates of the slower numbers
const BACKOFF_BASE = 500; // ms, the first delay of the page's own reconnection
const BACKOFF_CAP = 15000; // ms, its longest delay

const $ = (id) => document.getElementById(id);

const board = $('board');
const el = {
  unsupported: $('unsupported'),
  state: $('state'), seq: $('seq'), pos: $('pos'), rate: $('rate'),
  delay: $('delay'), resumes: $('resumes'), seed: $('seed'),
  announce: $('announce'), log: $('log'),
  disconnect: $('disconnect'), connect: $('connect'),
  // The play room's elements, absent on the other pages.
  viewers: $('viewers'), lastpush: $('lastpush'),
};

const spoken = {
  open: 'Connected: the object is moving.',
  reconnecting: 'Connection lost: reconnecting.',
  closed: 'Disconnected.',
};

// state is everything about the page that changes.
const state = {
  supported: typeof window.EventSource === 'function',
  stream: {
    source: null, // the current EventSource
    lastId: '', // the last event id, which is the walk's resume token
    attempt: 0, // reconnections since the last open, for the backoff
    retryTimer: 0,
    status: '', // connecting, open, reconnecting, paused (tab hidden) or closed
    announce: '', // what screen readers were last told
    resumes: 0,
    seed: null,
    resumeOnShow: false, // the stream was closed because the tab was hidden
  },
  moves: {
    last: null, // the last position (seq, x, y, delay), or null before the first
    arrivals: [], // performance.now() of recent moves
  },
  walk: newWalk(100), // the positions drawn (see canvas.js)
  log: [], // entries not yet in the DOM, oldest first
  play: {
    viewers: null, // the room's viewers, from its viewers events
    lastPush: null, // the last push a move carried (id, dir, seq)
    flashStart: -Infinity, // when the last move that carried a push came
  },
  view: board ? newView(board, 78) : null, // the canvas (see canvas.js)
  lastPanel: -Infinity, // when the slower numbers were last shown
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
  trimArrivals(now);
  state.loop.frame = 0;
  if (render(now)) {
    requestRender(); // the dot is on its way
  } else if (state.moves.arrivals.length > 0 && state.loop.panelTimer === 0) {
    // Nothing moves, but moves per second still falls to 0. Draw a few
    // frames a second until it has.
    state.loop.panelTimer = setTimeout(() => {
      state.loop.panelTimer = 0;
      requestRender();
    }, PANEL_EVERY);
  }
}

// render copies state into the DOM, and it is the only function that
// writes the DOM. It reports whether the dot is still on its way, so that
// it is drawn again.
function render(now) {
  if (!state.supported) {
    el.unsupported.hidden = false;
    for (const section of document.querySelectorAll('[data-needs-sse]')) section.hidden = true;
    return false;
  }
  if (!board) return false; // the page shows a refused parameter instead
  const { stream, moves, walk } = state;

  const s = stream.status;
  setText(el.state, s);
  el.state.dataset.state = s;
  el.disconnect.disabled = s === 'closed' || s === 'paused';
  el.connect.disabled = s !== 'closed';
  setText(el.announce, stream.announce);
  if (stream.seed !== null) setText(el.seed, String(stream.seed));

  if (moves.last) {
    const seq = String(moves.last.seq);
    setText(el.seq, seq);
    // The shared world counts moves since its start, so its seq grows
    // long. Keep it on one line.
    el.seq.classList.toggle('long', seq.length > 7);
    if (moves.last.delay !== null) setText(el.delay, moves.last.delay + ' ms');
  }
  if (walk.to) setText(el.pos, walk.to.x + ', ' + walk.to.y);
  // Show the slower numbers a few times a second. Show them once more when
  // the last arrival leaves the window, as no frame may follow.
  if (now - state.lastPanel >= PANEL_EVERY || moves.arrivals.length === 0) {
    state.lastPanel = now;
    setText(el.rate, formatRate(rate(now)));
    setText(el.resumes, String(stream.resumes));
  }

  renderLog();
  const { play } = state;
  if (el.viewers && play.viewers !== null) setText(el.viewers, String(play.viewers));
  if (el.lastpush && play.lastPush) {
    setText(el.lastpush, play.lastPush.dir + ' at ' + play.lastPush.seq);
    el.lastpush.dataset.id = play.lastPush.id;
  }
  return paint(board, state.view, walk, now, { flashStart: play.flashStart });
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
      // Write one line per field, "name: value", as on the wire.
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

// --- what state implies ---------------------------------------------------

// rate is the moves per second of the arrivals kept.
function rate(now) {
  const a = state.moves.arrivals;
  if (a.length < 2) return 0;
  const span = Math.max(a[a.length - 1] - a[0], now - a[a.length - 1]);
  return (a.length - 1) / (span / 1000);
}

function formatRate(r) {
  return r >= 10 ? String(Math.round(r)) : r.toFixed(1);
}

function trimArrivals(now) {
  const a = state.moves.arrivals;
  while (a.length > 0 && a[0] < now - RATE_WINDOW) a.shift();
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
      // stops an EventSource for good. Open a new one, later.
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
    const { moves, walk } = state;
    stream.lastId = e.lastEventId;
    walk.intervalMs = d.interval_ms;
    stream.seed = d.seed;
    if (d.resumed) {
      stream.resumes++;
    } else {
      clearWalk(walk); // a new walk, so the old path means nothing and the dot jumps to its start
      moves.arrivals.length = 0;
    }
    moves.last = { seq: d.seq, x: d.x, y: d.y, delay: moves.last ? moves.last.delay : null };
    place(walk, state.view, d, performance.now());
    // EventSource keeps the retry field to itself, so init repeats it.
    if (d.retry_ms !== undefined) pushLog('event', [['retry', String(d.retry_ms)]]);
    logEvent(e);
    requestRender();
  });
  es.addEventListener('move', (e) => {
    if (es !== stream.source) return;
    const d = JSON.parse(e.data);
    const now = performance.now();
    stream.lastId = e.lastEventId;
    state.moves.arrivals.push(now);
    trimArrivals(now); // also while no frame runs
    state.moves.last = { seq: d.seq, x: d.x, y: d.y, delay: Date.now() - d.ts };
    place(state.walk, state.view, d, now);
    board.dispatchEvent(new CustomEvent('moved', { detail: { seq: d.seq, at: now } }));
    if (d.pushes && d.pushes.length > 0) {
      // In the play room, a move that applied visitors' pushes flashes.
      // play.js hears of the pushes, to time the round trip of its own.
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
  close();
  state.stream.resumeOnShow = false;
  setStatus('closed');
  note('close(): readyState CLOSED');
}

// close ends the stream and any reconnection planned.
function close() {
  const { stream } = state;
  clearTimeout(stream.retryTimer);
  stream.retryTimer = 0;
  if (stream.source) stream.source.close();
  stream.source = null;
  stream.attempt = 0;
}

// hidden closes the stream while nobody looks, unless the user closed it.
// shown opens it again from the last event id. A walk's id is its resume
// token, so the server replays the moves missed meanwhile.
function hidden() {
  const { stream } = state;
  if (stream.status === 'closed' || stream.status === 'paused') return;
  const open = stream.source !== null || stream.retryTimer !== 0;
  close();
  stream.resumeOnShow = true;
  setStatus('paused');
  if (!open) {
    note('tab hidden: the stream opens when the tab is shown');
  } else if (stream.lastId) {
    note('tab hidden: close() at id ' + stream.lastId + '; the stream resumes from it when the tab is shown');
  } else {
    note('tab hidden: close(); the stream opens again when the tab is shown');
  }
}

function shown() {
  const { stream } = state;
  if (!stream.resumeOnShow) return;
  stream.resumeOnShow = false;
  note(stream.lastId ? 'tab shown: resuming from id ' + stream.lastId : 'tab shown: connecting');
  connect();
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

// --- the log --------------------------------------------------------------

function logEvent(e) {
  pushLog('event', [['id', e.lastEventId], ['event', e.type], ['data', e.data]]);
}

function note(text) {
  pushLog('note', text);
  requestRender();
}

// pushLog queues an entry. Its content is an event's fields as
// [name, value] pairs, or a note's text.
function pushLog(kind, content) {
  state.log.push({ kind, content });
  if (state.log.length > LOG_SIZE) state.log = state.log.slice(-LOG_SIZE);
}

// --- start ------------------------------------------------------------------

function start() {
  if (!state.supported || !board) {
    render(performance.now());
    return;
  }
  el.disconnect.addEventListener('click', disconnect);
  el.connect.addEventListener('click', () => {
    state.stream.attempt = 0;
    connect();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      // Stop the frames and the stream while nobody looks. One last
      // render says so, in the state and the log.
      cancelAnimationFrame(state.loop.frame);
      state.loop.frame = 0;
      clearTimeout(state.loop.panelTimer);
      state.loop.panelTimer = 0;
      hidden();
      render(performance.now());
    } else {
      state.view.dirty = true;
      requestRender();
      shown();
    }
  });

  // The first render sets the canvas's CSS size, which watch then
  // measures.
  render(performance.now());
  watch(board, state.view, requestRender);
  if (document.visibilityState === 'hidden') {
    hidden(); // opened in a background tab, so connect once shown
  } else {
    connect();
  }
}

start();
