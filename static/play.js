// play.js pushes the shared object of the play room (/play). The four
// buttons, the arrow keys and WASD, and swipes across the box each send
// POST /play/push with a new idempotency key. The server answers 202 once
// the push is in its log. app.js tells of each move that carried pushes,
// with a "pushes" event on the canvas. The round trip of your own push is
// the time from sending the POST to that move.
//
// The script writes only its own elements. They show your last push, its
// round trip, why a push was refused, and why the moves stopped while the
// stream is open.

const SWIPE_MIN = 30; // CSS px a swipe must travel
// STALL_MS without a move while the stream is open is a stall. It happens
// on a NATS cluster that has lost a node, while the room's log elects a new
// leader, which takes a few seconds. The server is up, and the moves go on
// where they stopped.
const STALL_MS = 3000;
const KEYS = {
  ArrowUp: 'up', ArrowDown: 'down', ArrowLeft: 'left', ArrowRight: 'right',
  w: 'up', s: 'down', a: 'left', d: 'right', W: 'up', S: 'down', A: 'left', D: 'right',
};

const $ = (id) => document.getElementById(id);
const board = $('board');
const el = { mine: $('mine'), roundtrip: $('roundtrip'), error: $('push-error'), stalled: $('play-stalled'), state: $('state') };

// pending holds the pushes sent and not yet seen in a move, as id → when
// sent.
const pending = new Map();

// newID returns a fresh idempotency key of 32 hex digits.
function newID() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function push(dir) {
  const id = newID();
  const sent = performance.now();
  pending.set(id, sent);
  el.mine.textContent = dir + ' (sending)';
  el.mine.dataset.id = id;
  let res;
  try {
    res = await fetch('/play/push', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ dir, id }),
    });
  } catch (err) {
    pending.delete(id);
    el.mine.textContent = dir + ' (not sent)';
    el.error.textContent = 'The push was not sent: ' + err.message;
    return;
  }
  if (res.status === 202) {
    el.error.textContent = '';
    if (pending.has(id)) el.mine.textContent = dir + ' (in the log after ' + Math.round(performance.now() - sent) + ' ms)';
    return;
  }
  pending.delete(id);
  const why = (await res.text()).trim();
  el.mine.textContent = dir + ' (refused)';
  el.error.textContent = res.status === 429
    ? 'Too many pushes: wait ' + (res.headers.get('Retry-After') || '1') + ' s.'
    : 'Push refused (' + res.status + '): ' + why;
}

function start() {
  if (!board || typeof window.EventSource !== 'function') return;
  for (const b of document.querySelectorAll('.pad [data-dir]')) {
    b.addEventListener('click', () => push(b.dataset.dir));
  }
  document.addEventListener('keydown', (e) => {
    const dir = KEYS[e.key];
    if (!dir || e.repeat || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.target instanceof Element && e.target.closest('input, textarea, select, [contenteditable]')) return;
    e.preventDefault(); // the arrows would scroll
    push(dir);
  });
  let from = null;
  board.addEventListener('pointerdown', (e) => {
    from = { x: e.clientX, y: e.clientY, id: e.pointerId };
  });
  board.addEventListener('pointerup', (e) => {
    if (!from || from.id !== e.pointerId) return;
    const dx = e.clientX - from.x;
    const dy = e.clientY - from.y;
    from = null;
    if (Math.max(Math.abs(dx), Math.abs(dy)) < SWIPE_MIN) return;
    push(Math.abs(dx) > Math.abs(dy) ? (dx > 0 ? 'right' : 'left') : (dy > 0 ? 'down' : 'up'));
  });
  board.addEventListener('pointercancel', () => { from = null; });
  watchStalls();
  board.addEventListener('pushes', (e) => {
    for (const p of e.detail.pushes) {
      const sent = pending.get(p.id);
      if (sent === undefined) continue;
      pending.delete(p.id);
      const ms = Math.round(e.detail.at - sent);
      el.mine.textContent = p.dir + ' at ' + e.detail.seq;
      el.roundtrip.textContent = ms + ' ms';
      el.roundtrip.dataset.id = p.id;
    }
  });
}

// watchStalls says, once a second, why no move came for STALL_MS while
// the stream is open. The next move clears the message.
function watchStalls() {
  let last = performance.now();
  const clear = () => { if (el.stalled.textContent !== '') el.stalled.textContent = ''; };
  board.addEventListener('moved', () => { last = performance.now(); clear(); });
  setInterval(() => {
    const now = performance.now();
    if (el.state.dataset.state !== 'open') {
      last = now; // counted from when the stream is open
      clear();
      return;
    }
    if (now - last < STALL_MS) return;
    el.stalled.textContent = 'No move for ' + Math.round((now - last) / 1000) + ' s, though the stream is open: ' +
      "the room's log is electing a new leader (its NATS cluster lost a node). The server is up; the moves go on " +
      'where they stopped, and pushes sent meanwhile are refused with "retry in a second", none lost.';
  }, 1000);
}

start();
