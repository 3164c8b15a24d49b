// Moving object: draws the walk streamed by /events on the canvas.
'use strict';

(function () {
  const board = document.getElementById('board');
  if (!window.EventSource) {
    document.getElementById('unsupported').hidden = false;
    return;
  }
  if (!board) return; // the page shows a refused parameter instead
  const ctx = board.getContext('2d');
  const state = document.getElementById('state');
  const seqOut = document.getElementById('seq');
  const posOut = document.getElementById('pos');
  let pos = null;

  function draw() {
    ctx.clearRect(0, 0, board.width, board.height);
    if (!pos) return;
    ctx.fillStyle = getComputedStyle(board).color;
    ctx.beginPath();
    ctx.arc(pos.x, pos.y, 6, 0, 2 * Math.PI);
    ctx.fill();
  }

  function show(p) {
    pos = p;
    seqOut.textContent = String(p.seq);
    posOut.textContent = p.x + ', ' + p.y;
    requestAnimationFrame(draw);
  }

  const source = new EventSource(board.dataset.eventsUrl);
  source.addEventListener('open', () => { state.textContent = 'open'; });
  source.addEventListener('error', () => {
    state.textContent = source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting';
  });
  source.addEventListener('init', (e) => show(JSON.parse(e.data)));
  source.addEventListener('move', (e) => show(JSON.parse(e.data)));
})();
