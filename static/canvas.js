// canvas.js draws a walk on a canvas. It draws the box with its grid, a
// fading trail, and the dot gliding to each new position, sharp at any size
// and pixel ratio. app.js uses it for one walk, and compare.js for one
// canvas per transport.
//
// The module keeps no state of its own. For each canvas, a page holds a
// view and a walk in its state object. The view is the box, the canvas's
// size in CSS and device pixels, and its colors. The walk is the positions
// drawn. These functions read and change both, and paint is the canvas part
// of the page's render step.

const TRAIL = 600; // positions kept for the fading trail
const TRAIL_RUNS = 30; // steps of its fading
const GLIDE_MAX = 250; // ms, the longest the dot glides per move
const FLASH_MS = 600; // ms, how long a flash (see paint) lasts

const still = window.matchMedia('(prefers-reduced-motion: reduce)');
const dark = window.matchMedia('(prefers-color-scheme: dark)');

// newView returns the view of canvas, whose width and height attributes
// are the walk's box in px. The canvas is shown at most maxVh of the
// window's height tall, keeping the box's aspect.
export function newView(canvas, maxVh) {
  const box = { w: canvas.width, h: canvas.height };
  return {
    box, // the walk's box, px
    maxVh,
    cell: gridCell(Math.max(box.w, box.h)), // grid spacing, box px
    colors: null,
    css: { w: 0, h: 0 }, // the canvas's displayed size, CSS px (0 until measured)
    device: { w: 0, h: 0 }, // the same in device pixels, the backing store it needs
    dpr: 0, // the devicePixelRatio that device was measured with
    dirty: true, // the canvas needs drawing
  };
}

// newWalk returns a walk with nothing drawn yet, moving every intervalMs.
export function newWalk(intervalMs) {
  return {
    intervalMs,
    trail: [], // recent positions, oldest first
    from: null, // where the dot glides from
    to: null, // where it glides to, the latest position
    glideStart: 0,
  };
}

// clearWalk forgets the path, so the next position is a new start.
export function clearWalk(walk) {
  walk.trail.length = 0;
  walk.from = null;
  walk.to = null;
}

// place moves the dot to p. The dot glides there from where it is at now.
export function place(walk, view, p, now) {
  walk.from = current(walk, now);
  walk.to = { x: p.x, y: p.y };
  walk.glideStart = now;
  const end = walk.trail[walk.trail.length - 1];
  if (!end || end.x !== p.x || end.y !== p.y) walk.trail.push(walk.to);
  if (walk.trail.length > TRAIL) walk.trail.shift();
  view.dirty = true;
}

function glideMs(walk) {
  return still.matches ? 0 : Math.min(walk.intervalMs, GLIDE_MAX);
}

// gliding reports whether the dot is still on its way at now.
function gliding(walk, now) {
  const { from, to, glideStart } = walk;
  return from !== null && to !== null && now - glideStart < glideMs(walk);
}

// current is where the dot is at now, part of the way from from to to. The
// glide lasts at most one tick, so that the drawing stays smooth at any
// tick rate.
function current(walk, now) {
  const { from, to, glideStart } = walk;
  if (!to) return null;
  if (!from || glideMs(walk) <= 0) return to;
  const k = Math.min(1, (now - glideStart) / glideMs(walk));
  return { x: from.x + (to.x - from.x) * k, y: from.y + (to.y - from.y) * k };
}

// paint is a render step's canvas part, and the only code that writes the
// canvas. It sets the canvas's CSS size once, because the box stays the
// same for the page's life. It gives the canvas a backing store of its
// displayed size in device pixels. It draws the walk when anything changed.
// It reports whether the dot is still on its way or flashing, so that it is
// drawn again next frame.
//
// Option flashStart is when a flash began. A flash is a ring that grows and
// fades around the dot for a moment. The play room flashes a move that
// carried a push. Set flashStart along with a place, which marks view
// dirty.
export function paint(canvas, view, walk, now, { flashStart = -Infinity } = {}) {
  // Scale with the page, keeping the box's aspect, and never taller than
  // maxVh of the window. The observers of watch measure what follows.
  if (canvas.style.aspectRatio === '') {
    const { w, h } = view.box;
    canvas.style.width = 'min(100%, ' + (view.maxVh * w / h).toFixed(2) + 'vh)';
    canvas.style.aspectRatio = w + ' / ' + h;
  }
  // A change of ratio that no event told of (emulators send none).
  if (view.dpr !== 0 && view.dpr !== ratio()) measure(canvas, view, null);
  if (!drawable(view)) return false;
  if (canvas.width !== view.device.w || canvas.height !== view.device.h) {
    canvas.width = view.device.w; // clears the canvas
    canvas.height = view.device.h;
    view.dirty = true;
  }
  if (!view.dirty) return false;
  const flash = flashing(flashStart, now) ? (now - flashStart) / FLASH_MS : -1;
  draw(canvas.getContext('2d'), view, walk, now, flash);
  view.dirty = gliding(walk, now) || flash >= 0; // drawn on its way, so draw it again
  return view.dirty;
}

// drawable reports whether the canvas can be drawn, which needs its size
// measured and its colors read.
function drawable(view) {
  const { device, colors } = view;
  return device.w > 0 && device.h > 0 && colors !== null;
}

// flashing reports whether a flash that began at start still shows at now.
function flashing(start, now) {
  return !still.matches && now - start < FLASH_MS;
}

// draw paints the box, the trail and the dot. It also paints the flash's
// ring at flash, which runs from 0 to 1 over the flash's time and is
// negative for none. draw works in box pixels, scaled to the backing store.
// It sizes the dot and its trail in CSS pixels, so that they look the same
// whether the box is shown shrunk (on a phone) or grown, on any screen.
function draw(ctx, view, walk, now, flash) {
  const { box: { w, h }, cell, colors, css, device } = view;
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

  const cur = current(walk, now);
  if (!cur) return;
  // The trail fades from the dot back. It is drawn in a few runs of
  // points, each a little fainter, so that a long trail stays cheap to draw.
  const pts = walk.trail.slice();
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
  if (flash >= 0) {
    ctx.globalAlpha = 1 - flash;
    ctx.strokeStyle = colors.dot;
    ctx.lineWidth = 3 / scale;
    ctx.beginPath();
    ctx.arc(cur.x, cur.y, radius * (2 + 4 * flash), 0, 2 * Math.PI);
    ctx.stroke();
    ctx.globalAlpha = 1;
  }
  ctx.fillStyle = colors.dot;
  ctx.beginPath();
  ctx.arc(cur.x, cur.y, radius, 0, 2 * Math.PI);
  ctx.fill();
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

// --- the canvas's size and colors -----------------------------------------

function ratio() {
  return window.devicePixelRatio || 1;
}

// measure records the canvas's displayed size, in CSS pixels and in
// device pixels (devicePixelRatio to a CSS pixel).
function measure(canvas, view, entry) {
  const dpr = ratio();
  const box = entry && entry.contentBoxSize && entry.contentBoxSize[0];
  if (box) {
    view.css = { w: box.inlineSize, h: box.blockSize };
  } else {
    const r = canvas.getBoundingClientRect();
    view.css = { w: r.width, h: r.height };
  }
  view.device = { w: Math.round(view.css.w * dpr), h: Math.round(view.css.h * dpr) };
  view.dpr = dpr;
  view.dirty = true;
}

function readColors(canvas, view) {
  const css = getComputedStyle(canvas);
  const v = (name) => css.getPropertyValue(name).trim();
  view.colors = { box: v('--box'), grid: v('--grid'), dot: v('--dot'), trail: v('--trail'), glow: v('--glow') };
  view.dirty = true;
}

// watch keeps view up to date with the canvas as shown, and calls changed
// after each change. It watches the canvas's size, its devicePixelRatio and
// the color scheme. The ratio changes with a zoom, or when the window moves
// to another screen, and neither changes a CSS size. Call watch after the
// first paint, which sets the canvas's CSS size.
export function watch(canvas, view, changed) {
  const measured = (entry) => {
    measure(canvas, view, entry);
    changed();
  };
  if (typeof window.ResizeObserver === 'function') {
    new ResizeObserver((entries) => measured(entries[entries.length - 1])).observe(canvas);
  } else {
    window.addEventListener('resize', () => measured(null));
    measured(null);
  }
  const watchRatio = () => {
    window.matchMedia('(resolution: ' + ratio() + 'dppx)').addEventListener('change', () => {
      measured(null);
      watchRatio();
    }, { once: true });
  };
  watchRatio();
  dark.addEventListener('change', () => {
    readColors(canvas, view);
    changed();
  });
  readColors(canvas, view);
  changed();
}
