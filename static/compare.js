// compare.js runs the page that compares push techniques (/compare). The
// shared world reaches the page four ways at once, by short polling, long
// polling, Server-Sent Events and WebSocket. Each panel has its own
// connection, canvas and figures.
//
// The page reads what it needs from the DOM. The endpoints and the world's
// pace are in main's data-* attributes. Each panel's transport is in its
// data-transport, and the box is its canvas's size. The script is an ES
// module with no inline script, so the page runs under a strict
// Content-Security-Policy.
//
// As in app.js, all that changes lives in one object, state, with one
// entry per panel. Handlers of the network and of the controls only change
// state and call requestRender. render runs on an animation frame, and it
// is the one function that writes the DOM, the canvases included (through
// canvas.js). While the tab is hidden, every panel closes its connection.
// Each resumes from the last move it had when the tab is shown.

import { newView, newWalk, clearWalk, place, paint, watch } from './canvas.js';

const DELAYS_KEPT = 1000; // delays kept for p50 and p99
const RATE_WINDOW = 5000; // ms of arrivals that moves per second counts, at least
const FIGURES_EVERY = 200; // ms between updates of the figures
const WIRE_SIZE = 4; // lines kept in a panel's wire log
const BACKOFF_BASE = 500; // ms, the first delay of a reconnection
const BACKOFF_CAP = 15000; // ms, its longest delay

const root = document.querySelector('main.compare');
const cfg = {
  pollURL: root.dataset.pollUrl,
  eventsURL: root.dataset.eventsUrl,
  socketURL: root.dataset.socketUrl,
  transportURL: root.dataset.transportUrl,
  transportPort: root.dataset.transportPort, // empty: the server has HTTP/3 off
  // The hashes of the server's own certificates, which the browser
  // trusts for WebTransport; none when the server has a real one.
  certHashes: root.dataset.certHashes ? root.dataset.certHashes.split(',') : [],
  waitMs: Number(root.dataset.waitMs),
  intervalMs: Number(root.dataset.intervalMs),
};
const utf8 = new TextEncoder();

// newPanel is the state of one panel, read from its article.
function newPanel(article) {
  const $ = (id) => article.querySelector('[data-testid="' + id + '"]');
  const el = {
    board: $('board'), state: $('state'), pause: $('pause'),
    interval: $('interval'), intervalValue: $('interval-value'),
    seq: $('seq'), moves: $('moves'), rate: $('rate'),
    p50: $('delay-p50'), p99: $('delay-p99'), stale: $('stale'),
    requests: $('requests'), requestsPerMove: $('requests-per-move'),
    bytes: $('bytes-per-move'), reconnects: $('reconnects'), wire: $('wire'),
  };
  return {
    key: article.dataset.transport, // poll, longpoll, sse, websocket or webtransport
    el,
    conn: {
      status: 'connecting', // connecting, open, reconnecting, paused or unsupported
      handle: null, // a poll's AbortController, the EventSource, the WebSocket or the WebTransport
      pollTimer: 0, // the next short poll
      retryTimer: 0, // the next attempt after a failure
      attempt: 0, // failures in a row, for the backoff
      lastSeq: null, // the last move had, where to resume
      paused: false, // by the user
      opened: false, // connected once, so the next connection is a reconnect
      pollMs: el.interval ? Number(el.interval.value) : 0, // short polls' interval
      pollSent: 0, // performance.now() of the last short poll sent
      sent: new Map(), // a count per poll URL that awaits its Resource Timing entry
    },
    fig: {
      moves: 0, // received, each once
      requests: 0,
      reconnects: 0,
      bytes: 0, // received, measured or estimated (see the page's notes)
      delays: [], // Date.now() - ts of the latest moves, as they arrived
      arrivals: [], // performance.now() of the moves in the rate's window
      since: 0, // when the first move arrived
      shown: null, // the move on the canvas (seq, ts)
    },
    walk: newWalk(cfg.intervalMs), // the positions drawn (see canvas.js)
    view: newView(el.board, 60), // the canvas (see canvas.js)
    wire: [], // lines not yet in the DOM, oldest first
  };
}

// state is everything about the page that changes.
const state = {
  panels: [...document.querySelectorAll('[data-transport]')].map(newPanel),
  hidden: document.visibilityState === 'hidden',
  lastFigures: -Infinity, // when the figures were last shown
  loop: {
    frame: 0, // id of the requested animation frame, 0 for none
    ticker: 0, // wakes render for the figures, which change with time
  },
};

// --- the render step ------------------------------------------------------

// requestRender asks for one frame, unless one is due or the tab is hidden.
function requestRender() {
  if (state.loop.frame !== 0 || state.hidden) return;
  state.loop.frame = requestAnimationFrame(frame);
}

function frame(now) {
  state.loop.frame = 0;
  if (render(now)) requestRender(); // a dot is on its way
}

// render copies state into the DOM, and it is the only function that
// writes the DOM. It reports whether a dot is still on its way, so that it
// is drawn again.
function render(now) {
  const figures = now - state.lastFigures >= FIGURES_EVERY;
  if (figures) state.lastFigures = now;
  let moving = false;
  for (const p of state.panels) {
    if (renderPanel(p, now, figures)) moving = true;
  }
  return moving;
}

function renderPanel(p, now, figures) {
  const { el, conn, fig } = p;
  setText(el.state, conn.status);
  el.state.dataset.state = conn.status;
  setText(el.pause, conn.paused ? 'Resume' : 'Pause');
  el.pause.setAttribute('aria-pressed', String(conn.paused));
  el.pause.disabled = conn.status === 'unsupported';
  if (el.interval) {
    setText(el.intervalValue, formatMs(conn.pollMs));
    el.interval.setAttribute('aria-valuetext', formatMs(conn.pollMs));
  }
  const seq = fig.shown ? fig.shown.seq : conn.lastSeq;
  if (seq !== null) {
    setText(el.seq, String(seq));
    // The world counts moves since its start, so its seq grows long.
    // Keep it on one line.
    el.seq.classList.toggle('long', String(seq).length > 7);
  }

  // The figures that change with time, a few times a second.
  if (figures) {
    trimArrivals(p, now);
    setText(el.moves, String(fig.moves));
    const mps = rate(p, now);
    setText(el.rate, mps === null ? '–' : mps >= 10 ? String(Math.round(mps)) : mps.toFixed(1));
    if (fig.delays.length > 0) {
      const sorted = fig.delays.slice().sort((a, b) => a - b);
      setText(el.p50, formatMs(percentile(sorted, 0.5)));
      setText(el.p99, formatMs(percentile(sorted, 0.99)));
    }
    if (fig.shown) setText(el.stale, formatMs(Date.now() - fig.shown.ts));
    setText(el.requests, String(fig.requests));
    if (fig.moves > 0) {
      const perMove = fig.requests / fig.moves;
      setText(el.requestsPerMove, (perMove < 0.1 ? perMove.toPrecision(2) : perMove.toFixed(2)) + '/move');
      if (fig.bytes > 0) setText(el.bytes, Math.round(fig.bytes / fig.moves) + ' B');
    }
    setText(el.reconnects, String(fig.reconnects));
  }

  renderWire(p);
  return paint(el.board, p.view, p.walk, now);
}

// setText sets an element's text when it differs.
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function renderWire(p) {
  if (p.wire.length === 0) return;
  const frag = document.createDocumentFragment();
  for (let i = p.wire.length - 1; i >= 0; i--) {
    const li = document.createElement('li');
    li.textContent = p.wire[i];
    li.title = p.wire[i]; // the line may be cut short
    frag.appendChild(li);
  }
  p.wire = [];
  p.el.wire.prepend(frag);
  while (p.el.wire.children.length > WIRE_SIZE) p.el.wire.lastElementChild.remove();
}

// --- what state implies ---------------------------------------------------

// rate is the moves per second that arrived in the window. The window is
// at least RATE_WINDOW long, and at least two short polls long, because
// polls bring moves in batches.
function rate(p, now) {
  const span = Math.min(rateWindow(p), now - p.fig.since);
  if (p.fig.moves === 0 || span < 1000) return null;
  return p.fig.arrivals.length / (span / 1000);
}

function rateWindow(p) {
  return Math.max(RATE_WINDOW, 2 * p.conn.pollMs);
}

function trimArrivals(p, now) {
  const a = p.fig.arrivals;
  const from = now - rateWindow(p);
  let i = 0;
  while (i < a.length && a[i] < from) i++;
  if (i > 0) a.splice(0, i);
}

// percentile is the nearest-rank q-quantile of sorted.
function percentile(sorted, q) {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

function formatMs(ms) {
  if (Math.abs(ms) < 1000) return Math.round(ms) + ' ms';
  if (Math.abs(ms) < 10000) return (ms / 1000).toFixed(1) + ' s';
  return Math.round(ms / 1000) + ' s';
}

// --- what arrives, whatever the transport ---------------------------------

// started takes an init, which says where the world stands. A resumed
// init changes nothing. Any other init is a new start. If the panel had
// moves before, the moves in between left the replay window.
function started(p, init, now) {
  const { conn } = p;
  p.walk.intervalMs = init.interval_ms;
  if (conn.lastSeq !== null && init.resumed) return;
  if (conn.lastSeq !== null) {
    note(p, init.seq > conn.lastSeq
      ? 'moves ' + (conn.lastSeq + 1) + ' to ' + init.seq + ' were no longer kept: starting afresh'
      : 'the world started afresh');
    clearWalk(p.walk); // no line across the moves missed
  }
  conn.lastSeq = init.seq;
  place(p.walk, p.view, init, now);
}

// received takes moves, oldest first. Each move after the last one had is
// counted, timed and drawn.
function received(p, moves, now) {
  const { conn, fig } = p;
  const wall = Date.now();
  for (const m of moves) {
    if (conn.lastSeq !== null && m.seq <= conn.lastSeq) {
      // This is the move the init stood at. Its ts says how old the dot is.
      if (m.seq === conn.lastSeq && fig.shown === null) fig.shown = m;
      continue;
    }
    if (conn.lastSeq !== null && m.seq > conn.lastSeq + 1) {
      note(p, 'moves ' + (conn.lastSeq + 1) + ' to ' + (m.seq - 1) + ' missed');
      clearWalk(p.walk);
    }
    if (fig.moves === 0) fig.since = now;
    conn.lastSeq = m.seq;
    fig.moves++;
    fig.delays.push(wall - m.ts);
    if (fig.delays.length > DELAYS_KEPT) fig.delays.shift();
    fig.arrivals.push(now);
    fig.shown = m;
    place(p.walk, p.view, m, now);
  }
  requestRender();
}

// --- connections ----------------------------------------------------------

// start opens p's connection, from the last move it had, unless the user
// paused it or the tab is hidden.
function start(p) {
  const { conn, fig } = p;
  if (conn.paused || state.hidden || conn.status === 'unsupported') return;
  close(p);
  if (conn.opened) fig.reconnects++;
  conn.opened = true;
  setStatus(p, fig.reconnects > 0 ? 'reconnecting' : 'connecting');
  transports[p.key](p);
}

// close ends p's connection, and any poll or reconnection planned.
function close(p) {
  const { conn } = p;
  clearTimeout(conn.pollTimer);
  clearTimeout(conn.retryTimer);
  conn.pollTimer = 0;
  conn.retryTimer = 0;
  const h = conn.handle;
  conn.handle = null; // the handlers of h see that it is no longer current
  if (h instanceof AbortController) {
    h.abort();
  } else if (typeof WebSocket === 'function' && h instanceof WebSocket) {
    // Closing a WebSocket that is still connecting logs an error in the
    // console. Close it once it is open.
    if (h.readyState === WebSocket.CONNECTING) {
      h.addEventListener('open', () => h.close(1000));
    } else {
      h.close(1000);
    }
  } else if (h) {
    h.close(); // an EventSource or a WebTransport
  }
}

// retryLater opens p's connection again after a failure, later each time.
function retryLater(p, why) {
  const { conn } = p;
  const ceiling = Math.min(BACKOFF_CAP, BACKOFF_BASE * 2 ** conn.attempt);
  const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2);
  conn.attempt++;
  setStatus(p, 'reconnecting');
  note(p, why + '; again in ' + delay + ' ms');
  conn.retryTimer = setTimeout(() => {
    conn.retryTimer = 0;
    start(p);
  }, delay);
}

function setStatus(p, s) {
  p.conn.status = s;
  requestRender();
}

// note adds a line to p's wire log.
function note(p, text) {
  p.wire.push(text);
  if (p.wire.length > WIRE_SIZE) p.wire = p.wire.slice(-WIRE_SIZE);
  requestRender();
}

// transports open a connection of each kind.
const transports = {
  poll: (p) => sendPoll(p, false),
  longpoll: (p) => sendPoll(p, true),
  sse: openEventSource,
  websocket: openSocket,
  webtransport: openWebTransport,
};

// pollURL is the URL of the poll after seq. With no seq, the poll asks
// where the world stands. The server holds the poll up to waitMs when
// waitMs is not 0 and there is a seq to wait after.
function pollURL(seq, waitMs) {
  const url = new URL(cfg.pollURL, location.href);
  if (seq !== null) {
    url.searchParams.set('after', String(seq));
    if (waitMs > 0) url.searchParams.set('wait', String(waitMs));
  }
  return url;
}

// sendPoll sends one poll. A short poll is answered at once, and the next
// one is sent one interval after this one was. The server holds a long poll
// until a move exists, and the next one is sent as soon as it is answered.
function sendPoll(p, long) {
  const { conn, fig } = p;
  const ctl = new AbortController();
  conn.handle = ctl;
  conn.pollTimer = 0;
  const url = pollURL(conn.lastSeq, long ? cfg.waitMs : 0);
  const path = url.pathname + url.search;
  conn.sent.set(url.href, (conn.sent.get(url.href) || 0) + 1);
  fig.requests++;
  const sent = performance.now();
  conn.pollSent = sent;
  fetch(url, { signal: ctl.signal, cache: 'no-store' })
    .then((res) => (res.ok ? res.json() : res.text().then((t) => {
      throw new Error(res.status + ' ' + t.trim());
    })))
    .then((body) => {
      if (conn.handle !== ctl) return;
      conn.handle = null;
      conn.attempt = 0;
      setStatus(p, 'open');
      const now = performance.now();
      if (body.init) started(p, body.init, now);
      received(p, body.moves, now);
      const n = body.moves.length;
      note(p, 'GET ' + path + ' → ' + n + (n === 1 ? ' move' : ' moves') + (long ? ' after ' + formatMs(now - sent) : ''));
      if (long) {
        sendPoll(p, true);
      } else {
        conn.pollTimer = setTimeout(() => sendPoll(p, false), Math.max(0, sent + conn.pollMs - now));
      }
    })
    .catch((err) => {
      if (conn.handle !== ctl) return; // closed on purpose
      conn.handle = null;
      retryLater(p, 'GET ' + path + ' failed: ' + err.message);
    });
}

// setPollInterval changes the short polls' interval. A poll already
// planned is planned again, one new interval after the last.
function setPollInterval(p, ms) {
  const { conn } = p;
  conn.pollMs = ms;
  if (conn.pollTimer !== 0) {
    clearTimeout(conn.pollTimer);
    conn.pollTimer = setTimeout(() => sendPoll(p, false), Math.max(0, conn.pollSent + ms - performance.now()));
  }
  requestRender();
}

// observeBytes adds each poll's bytes as the Resource Timing API measured
// them. transferSize counts the answer's status line, headers and body as
// received.
function observeBytes() {
  if (typeof PerformanceObserver !== 'function') return;
  const polls = state.panels.filter((p) => p.key === 'poll' || p.key === 'longpoll');
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      // The two panels' first polls have the same URL, and the same size.
      const p = polls.find((q) => q.conn.sent.has(e.name));
      if (!p) continue;
      const n = p.conn.sent.get(e.name);
      if (n > 1) p.conn.sent.set(e.name, n - 1);
      else p.conn.sent.delete(e.name);
      p.fig.bytes += e.transferSize;
    }
    performance.clearResourceTimings(); // the buffer only keeps 250
  }).observe({ type: 'resource' });
}

// openEventSource opens the stream, from the last move had, as
// lastEventId in the query. When the browser reconnects, it sends the last
// id itself as Last-Event-ID.
function openEventSource(p) {
  const { conn, fig } = p;
  const url = new URL(cfg.eventsURL, location.href);
  if (conn.lastSeq !== null) url.searchParams.set('lastEventId', String(conn.lastSeq));
  const path = url.pathname + url.search;
  const es = new EventSource(path);
  const current = () => conn.handle === es;
  conn.handle = es;
  fig.requests++;
  note(p, 'new EventSource(' + JSON.stringify(path) + ')');
  es.addEventListener('open', () => {
    if (!current()) return;
    conn.attempt = 0;
    setStatus(p, 'open');
  });
  es.addEventListener('error', () => {
    if (!current()) return;
    if (es.readyState === EventSource.CLOSED) {
      conn.handle = null;
      es.close();
      retryLater(p, 'error: the browser gave up');
    } else {
      fig.requests++;
      fig.reconnects++;
      setStatus(p, 'reconnecting');
      note(p, 'error: the browser reconnects, sending Last-Event-ID ' + conn.lastSeq);
    }
  });
  es.addEventListener('init', (e) => {
    if (!current()) return;
    const d = JSON.parse(e.data);
    // EventSource keeps the retry field that comes first to itself.
    fig.bytes += utf8.encode('retry: ' + d.retry_ms + '\n').length + eventBytes(e);
    started(p, d, performance.now());
  });
  es.addEventListener('move', (e) => {
    if (!current()) return;
    fig.bytes += eventBytes(e);
    received(p, [JSON.parse(e.data)], performance.now());
  });
}

// eventBytes is the size of an event as the server frames it. The server
// writes the id, event and data lines, then a blank line. The JSON holds
// no line break, so there is one data line.
function eventBytes(e) {
  return utf8.encode('id: ' + e.lastEventId + '\nevent: ' + e.type + '\ndata: ' + e.data + '\n\n').length;
}

// openSocket opens the WebSocket, from the last move had, as ?after=. A
// WebSocket has no Last-Event-ID, so the page says where to resume.
function openSocket(p) {
  const { conn, fig } = p;
  const url = new URL(cfg.socketURL, location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (conn.lastSeq !== null) url.searchParams.set('after', String(conn.lastSeq));
  const ws = new WebSocket(url.href);
  const current = () => conn.handle === ws;
  conn.handle = ws;
  fig.requests++; // the handshake
  note(p, 'new WebSocket(' + JSON.stringify(url.pathname + url.search) + ')');
  ws.addEventListener('open', () => {
    if (!current()) return;
    conn.attempt = 0;
    setStatus(p, 'open');
  });
  ws.addEventListener('message', (e) => {
    if (!current() || typeof e.data !== 'string') return;
    fig.bytes += frameBytes(e.data);
    const m = JSON.parse(e.data);
    if (m.type === 'init') {
      started(p, m, performance.now());
    } else if (m.type === 'move') {
      received(p, [m], performance.now());
    }
  });
  ws.addEventListener('close', (e) => {
    if (!current()) return;
    conn.handle = null;
    retryLater(p, 'close: code ' + e.code + (e.reason ? ' (' + e.reason + ')' : ''));
  });
}

// frameBytes is the size of a text message in an unmasked frame, as the
// server sends it. The header takes 2 bytes, 4 from a 126-byte message, and
// 10 from a 64 KiB one.
function frameBytes(text) {
  const n = utf8.encode(text).length;
  return n + (n < 126 ? 2 : n < 65536 ? 4 : 10);
}

// openWebTransport opens a WebTransport session, from the last move had,
// as ?after=, at the page's own host name and the server's UDP port. The
// server opens one unidirectional stream in the session and writes on it
// the WebSocket's messages, one JSON object per line. Over plain HTTP the
// browser trusts the server's own certificate by its hash.
function openWebTransport(p) {
  const { conn, fig } = p;
  const url = new URL('https://' + location.hostname + ':' + cfg.transportPort + cfg.transportURL);
  if (conn.lastSeq !== null) url.searchParams.set('after', String(conn.lastSeq));
  const options = cfg.certHashes.length === 0 ? {} : {
    serverCertificateHashes: cfg.certHashes.map((h) => ({ algorithm: 'sha-256', value: base64Bytes(h) })),
  };
  const path = url.pathname + url.search;
  fig.requests++; // the CONNECT
  note(p, 'new WebTransport(' + JSON.stringify(path) + ')');
  let wt;
  try {
    wt = new WebTransport(url.href, options);
  } catch (err) {
    retryLater(p, 'the browser refused to open it: ' + err.message);
    return;
  }
  const current = () => conn.handle === wt;
  conn.handle = wt;
  let opened = false;
  // lost plans the next attempt, once, whichever promise tells first.
  const lost = (why) => {
    if (!current()) return;
    conn.handle = null;
    wt.close();
    retryLater(p, why);
  };
  // Whichever of ready and closed fails first says why.
  const failed = (err) => lost(opened ? 'the session failed: ' + err.message
    : 'the browser could not open the session (' + err.message + '): UDP blocked, or the certificate'
      + (cfg.certHashes.length > 0 ? ' hash' : '') + ' refused');
  wt.ready.then(() => {
    if (!current()) return;
    opened = true;
    conn.attempt = 0;
    setStatus(p, 'open');
    readLines(p, wt).catch((err) => lost('the stream failed: ' + err.message));
  }, failed);
  wt.closed.then((info) => lost('closed: code ' + info.closeCode + (info.reason ? ' (' + info.reason + ')' : '')), failed);
}

// readLines reads the session's stream of messages, one JSON object per
// line, as long as wt is p's connection. An empty line is the heartbeat.
async function readLines(p, wt) {
  const streams = wt.incomingUnidirectionalStreams.getReader();
  const { value: stream, done } = await streams.read();
  streams.releaseLock();
  if (done) return;
  const lines = stream.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  while (p.conn.handle === wt) {
    const { value, done: ended } = await lines.read();
    if (ended) return;
    rest += value;
    let nl;
    while ((nl = rest.indexOf('\n')) >= 0 && p.conn.handle === wt) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (line === '') continue;
      p.fig.bytes += utf8.encode(line).length + 1;
      const m = JSON.parse(line);
      if (m.type === 'init') {
        started(p, m, performance.now());
      } else if (m.type === 'move') {
        received(p, [m], performance.now());
      }
    }
  }
  lines.cancel();
}

// base64Bytes decodes a base64 string.
function base64Bytes(b64) {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

// --- the tab and the controls ---------------------------------------------

// hidden closes every connection while nobody looks. The frames stop, and
// one last render says so.
function hidden() {
  state.hidden = true;
  cancelAnimationFrame(state.loop.frame);
  state.loop.frame = 0;
  clearInterval(state.loop.ticker);
  state.loop.ticker = 0;
  for (const p of state.panels) {
    if (p.conn.paused || p.conn.status === 'unsupported') continue;
    close(p);
    setStatus(p, 'paused');
    note(p, p.conn.lastSeq === null
      ? 'tab hidden: connects when the tab is shown'
      : 'tab hidden: closed after move ' + p.conn.lastSeq + '; resumes from it when shown');
  }
  render(performance.now());
}

// shown opens every connection the tab closed, from the last move each had.
function shown() {
  state.hidden = false;
  state.loop.ticker = setInterval(requestRender, FIGURES_EVERY);
  for (const p of state.panels) {
    if (p.conn.paused || p.conn.status === 'unsupported') continue;
    if (p.conn.lastSeq !== null) note(p, 'tab shown: resuming after move ' + p.conn.lastSeq);
    start(p);
  }
  for (const p of state.panels) p.view.dirty = true;
  requestRender();
}

function togglePause(p) {
  const { conn } = p;
  conn.paused = !conn.paused;
  if (conn.paused) {
    close(p);
    setStatus(p, 'paused');
    note(p, 'paused: closed' + (conn.lastSeq === null ? '' : ' after move ' + conn.lastSeq));
  } else {
    if (conn.lastSeq !== null) note(p, 'resuming after move ' + conn.lastSeq);
    start(p);
  }
}

// unsupported says why the page cannot open a transport here, or ''.
function unsupported(key) {
  switch (key) {
    case 'sse': return typeof window.EventSource === 'function' ? '' : 'this browser has no EventSource';
    case 'websocket': return typeof window.WebSocket === 'function' ? '' : 'this browser has no WebSocket';
    case 'webtransport':
      if (cfg.transportPort === '') return 'the server runs with HTTP/3 off (-http3=false): no WebTransport';
      if (typeof window.WebTransport === 'function') return '';
      return window.isSecureContext
        ? 'this browser has no WebTransport: it shows nothing here'
        : 'no WebTransport on a page that is not a secure context: open it over https or from localhost';
    default: return typeof window.fetch === 'function' ? '' : 'this browser has no fetch';
  }
}

function init() {
  for (const p of state.panels) {
    const why = unsupported(p.key);
    if (why !== '') {
      p.conn.status = 'unsupported';
      note(p, why);
    }
    p.el.pause.addEventListener('click', () => togglePause(p));
    if (p.el.interval) {
      p.el.interval.addEventListener('input', () => setPollInterval(p, Number(p.el.interval.value)));
    }
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      hidden();
    } else if (state.hidden) {
      shown();
    }
  });
  observeBytes();

  // The first render sets the canvases' CSS size, which watch then
  // measures.
  render(performance.now());
  for (const p of state.panels) watch(p.el.board, p.view, requestRender);
  if (state.hidden) {
    state.hidden = false; // so that hidden says so
    hidden();
  } else {
    shown();
  }
}

init();
