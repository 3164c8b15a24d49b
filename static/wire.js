// wire.js runs the wire by hand (/wire). The visitor types a stream's
// bytes as text, and the page shows them byte by byte. The page then sends
// the bytes twice. It sends them to this browser's own EventSource through
// GET /wire/stream?raw=<base64url>, which answers exactly those bytes and
// ends. It also sends them to the spec decoder through POST /wire/parse.
// The page shows the events of each side by side, and whether they agree.
//
// The page reads its endpoints and the size limit from main's data-*
// attributes, and its presets from the select's options. The script is an
// ES module with no inline script, so the page runs under a strict
// Content-Security-Policy. It writes every value the stream carries with
// textContent, never as markup.
//
// All that changes lives in one object, state. Handlers only change state
// and call render, the one function that writes the DOM.

const RUN_TIMEOUT = 10000; // ms, after which a run whose response never ends is called off

const $ = (id) => document.getElementById(id);
const root = document.querySelector('main.wire-page');
const cfg = {
  streamURL: root.dataset.streamUrl,
  parseURL: root.dataset.parseUrl,
  maxBytes: Number(root.dataset.maxBytes),
};
const el = {
  unsupported: $('unsupported'),
  preset: $('wire-preset'), rule: $('wire-rule'), send: $('wire-send'),
  input: $('wire-input'), bytes: $('wire-bytes'), count: $('wire-count'),
  verdict: $('wire-verdict'),
  browser: $('wire-browser'), browserNote: $('wire-browser-note'),
  decoder: $('wire-decoder'), decoderNote: $('wire-decoder-note'),
  curl: $('wire-curl'),
};

// state is everything about the page that changes.
const state = {
  supported: typeof window.EventSource === 'function',
  bytes: new Uint8Array(0), // the stream the textarea stands for
  bytesShown: null, // the bytes the byte view shows
  rule: el.rule.textContent, // the sentence on the preset's rule
  runs: 0, // runs started, so that a late answer of an earlier one is dropped
  run: null, // the latest run (see send), or null before the first
};

// --- the textarea's text and the bytes --------------------------------------

// readText returns the bytes that the textarea's text stands for. The
// characters are encoded in UTF-8, except for the escapes \r (CR), \0
// (NUL), \xHH (one byte) and \\ (a backslash). Any other backslash stands
// for itself. A textarea's value holds no CR, because its line breaks are
// LF.
function readText(text) {
  const utf8 = new TextEncoder();
  const out = [];
  let plain = 0; // start of the text not yet encoded
  const flush = (end) => {
    if (end > plain) out.push(...utf8.encode(text.slice(plain, end)));
  };
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '\\') continue;
    const next = text[i + 1];
    let byte = -1, len = 2;
    if (next === 'r') byte = 0x0d;
    else if (next === '0') byte = 0x00;
    else if (next === '\\') byte = 0x5c;
    else if (next === 'x' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 2, i + 4))) {
      byte = parseInt(text.slice(i + 2, i + 4), 16);
      len = 4;
    }
    if (byte < 0) continue;
    flush(i);
    out.push(byte);
    i += len - 1;
    plain = i + 1;
  }
  flush(text.length);
  return Uint8Array.from(out);
}

// base64url encodes bytes in base64url without padding (RFC 4648 §5), as
// GET /wire/stream takes them.
function base64url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// eventNames returns every event type the stream names, which is the value
// of each event field. It reads the stream as a browser does. The bytes are
// UTF-8, with U+FFFD for what is not, and one leading BOM is dropped. Lines
// end with CR, LF or CRLF. The EventSource must listen for each name,
// because it dispatches named events only to listeners of their name.
function eventNames(bytes) {
  const names = new Set();
  const text = new TextDecoder('utf-8').decode(bytes);
  for (const line of text.split(/\r\n|\r|\n/)) {
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== 'event') continue;
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (value !== '') names.add(value);
  }
  return names;
}

// utf8Length returns the length of the valid UTF-8 sequence that starts
// at bytes[i], or 0 when none does. It uses the ranges of the WHATWG UTF-8
// decoder.
function utf8Length(bytes, i) {
  const c = bytes[i];
  let need = 0, lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) need = 1;
  else if (c === 0xe0) { need = 2; lo = 0xa0; }
  else if (c === 0xed) { need = 2; hi = 0x9f; }
  else if (c >= 0xe1 && c <= 0xef) need = 2;
  else if (c === 0xf0) { need = 3; lo = 0x90; }
  else if (c >= 0xf1 && c <= 0xf3) need = 3;
  else if (c === 0xf4) { need = 3; hi = 0x8f; }
  else return 0;
  for (let k = 1; k <= need; k++) {
    const x = bytes[i + k];
    if (x === undefined || x < lo || x > hi) return 0;
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const exact = new TextDecoder('utf-8', { ignoreBOM: true });
const hex = (b) => b.toString(16).toUpperCase().padStart(2, '0');

// Names of the bytes the byte view shows as a badge.
const byteNames = {
  0x00: ['NUL', 'U+0000 NULL'],
  0x09: ['TAB', 'U+0009 CHARACTER TABULATION'],
  0x0a: ['LF', 'U+000A LINE FEED: ends the line'],
  0x0d: ['CR', 'U+000D CARRIAGE RETURN: ends the line (with an LF right after it, one line end)'],
};

// --- rendering ------------------------------------------------------------

// span returns an element of the class with its text (as text) and title.
function span(cls, text, title) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  if (title) s.title = title;
  return s;
}

// byteView returns the bytes as the byte view shows them. It shows one row
// per line as the parser splits them, and makes each line end, space and
// odd byte visible.
function byteView(bytes) {
  const frag = document.createDocumentFragment();
  let plain = '';
  const put = (node) => {
    if (plain) frag.append(plain);
    plain = '';
    if (node) frag.append(node);
  };
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b >= 0x21 && b <= 0x7e) {
      plain += String.fromCharCode(b);
    } else if (b === 0x20) {
      put(span('sp', '·', 'U+0020 SPACE'));
    } else if (b === 0x0d || b === 0x0a) {
      put(span('eol', byteNames[b][0], byteNames[b][1]));
      if (b === 0x0d && bytes[i + 1] === 0x0a) {
        put(span('eol', 'LF', 'U+000A LINE FEED: after a CR, part of the same line end'));
        i++;
      }
      frag.append('\n');
    } else if (byteNames[b]) {
      put(span('ctl', byteNames[b][0], byteNames[b][1]));
    } else if (b < 0x80) {
      put(span('ctl', hex(b), 'a control byte, 0x' + hex(b)));
    } else {
      const n = utf8Length(bytes, i);
      if (n === 0) {
        put(span('bad', hex(b), '0x' + hex(b) + ': not UTF-8, read as U+FFFD'));
        continue;
      }
      const ch = exact.decode(bytes.subarray(i, i + n));
      const seq = [...bytes.subarray(i, i + n)].map(hex).join(' ');
      if (i === 0 && ch === '\uFEFF') {
        put(span('ctl', 'BOM', seq + ': U+FEFF BYTE ORDER MARK, dropped at the start of the stream'));
      } else if (printable.test(ch)) {
        plain += ch;
      } else {
        const cp = 'U+' + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, '0');
        put(span('ctl', seq, cp + ', which prints nothing'));
      }
      i += n - 1;
    }
  }
  put(null);
  return frag;
}

// shown returns a value as the columns show it. The value is quoted. Line
// ends, NUL, the other controls and characters that print nothing are
// escaped, and U+FFFD is marked.
function shown(value) {
  const frag = document.createDocumentFragment();
  frag.append(span('q', '"'));
  let plain = '';
  for (const ch of value) {
    let esc = '';
    if (ch === '\n') esc = '\\n';
    else if (ch === '\r') esc = '\\r';
    else if (ch === '\0') esc = '\\0';
    else if (ch === '\t') esc = '\\t';
    else if (ch === '\\' || ch === '"') esc = '\\' + ch;
    else if (ch === '\uFFFD') {
      if (plain) frag.append(plain);
      plain = '';
      frag.append(span('bad', ch, 'U+FFFD REPLACEMENT CHARACTER: bytes that were not UTF-8'));
      continue;
    } else if (ch !== ' ' && !printable.test(ch)) {
      esc = '\\u{' + ch.codePointAt(0).toString(16).toUpperCase() + '}';
    }
    if (!esc) {
      plain += ch;
      continue;
    }
    if (plain) frag.append(plain);
    plain = '';
    frag.append(span('esc', esc));
  }
  if (plain) frag.append(plain);
  frag.append(span('q', '"'));
  return frag;
}

// eventItem is one event of a column. It holds the event's three values
// in data-* as they are, and shows them readably.
function eventItem(ev, n, differs) {
  const li = document.createElement('li');
  li.className = 'wire-event' + (differs ? ' differs' : '');
  li.dataset.testid = 'wire-event';
  li.dataset.type = ev.type;
  li.dataset.data = ev.data;
  li.dataset.lastEventId = ev.lastEventId;
  if (differs) li.dataset.differs = 'true';
  li.append(span('n', String(n)));
  const dl = document.createElement('dl');
  for (const [name, value] of [['type', ev.type], ['data', ev.data], ['lastEventId', ev.lastEventId]]) {
    const row = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.append(shown(value));
    row.append(dt, dd);
    dl.append(row);
  }
  li.append(dl);
  return li;
}

// same reports whether two events have the same three values.
const same = (a, b) => a !== undefined && b !== undefined &&
  a.type === b.type && a.data === b.data && a.lastEventId === b.lastEventId;

// comparison compares the two columns of a run once both are in. It
// returns the indexes of the events that differ, and the sentence of the
// verdict.
function comparison(browser, decoder) {
  const differ = [];
  for (let i = 0; i < Math.max(browser.length, decoder.length); i++) {
    if (!same(browser[i], decoder[i])) differ.push(i);
  }
  const events = (n) => (n === 1 ? '1 event' : n + ' events');
  let sentence;
  if (differ.length === 0) {
    sentence = browser.length === 0
      ? 'They agree: neither dispatched any event.'
      : 'They agree: ' + events(browser.length) + ', the same in both columns.';
  } else {
    const which = differ.map((i) => String(i + 1));
    const list = which.length === 1 ? 'event ' + which[0] : 'events ' + which.slice(0, -1).join(', ') + ' and ' + which.at(-1);
    sentence = 'They differ at ' + list + ' (marked): the browser dispatched ' + events(browser.length) +
      ', the decoder ' + events(decoder.length) + '.';
  }
  return { differ: new Set(differ), sentence };
}

// render copies state into the DOM, and it is the only function that
// writes the DOM.
function render() {
  el.unsupported.hidden = state.supported;
  el.rule.textContent = state.rule;

  const n = state.bytes.length;
  const tooLarge = n > cfg.maxBytes;
  if (state.bytesShown !== state.bytes) {
    state.bytesShown = state.bytes;
    el.bytes.replaceChildren(byteView(state.bytes));
    el.bytes.dataset.raw = base64url(state.bytes);
    el.curl.textContent = "curl -N '" + new URL(cfg.streamURL + '?raw=' + el.bytes.dataset.raw, location.href).href + "'";
  }
  el.count.textContent = tooLarge
    ? n + ' bytes: more than the ' + cfg.maxBytes + ' the server takes'
    : n === 1 ? '1 byte' : n + ' bytes';
  el.count.classList.toggle('error', tooLarge);
  el.send.disabled = tooLarge;

  const run = state.run;
  const decoded = run && run.decoder;
  const done = run && run.browserDone && decoded !== null;
  const cmp = done && !run.failed ? comparison(run.browser, decoded.events) : null;
  const differ = cmp ? cmp.differ : new Set();
  el.browser.replaceChildren(...(run ? run.browser.map((ev, i) => eventItem(ev, i + 1, differ.has(i))) : []));
  el.decoder.replaceChildren(...(decoded ? decoded.events.map((ev, i) => eventItem(ev, i + 1, differ.has(i))) : []));
  el.browserNote.textContent = run ? run.browserNote : '';
  let decoderNote = run ? run.decoderNote : '';
  if (decoded && !decoderNote) {
    decoderNote = decoded.retry === null
      ? 'No valid retry field: the reconnection time stays as it was.'
      : 'retry: the reconnection time is now ' + decoded.retry + ' ms (EventSource keeps it to itself).';
  }
  el.decoderNote.textContent = decoderNote;

  el.verdict.dataset.run = String(run ? run.id : 0);
  if (cmp) {
    el.verdict.dataset.agree = String(differ.size === 0);
    el.verdict.textContent = cmp.sentence;
  } else {
    delete el.verdict.dataset.agree;
    if (!run) el.verdict.textContent = 'Send the stream to see what the browser and the decoder make of it.';
    else if (run.failed) el.verdict.textContent = 'No verdict: ' + run.failed;
    else el.verdict.textContent = 'Sending ' + (n === 1 ? '1 byte' : n + ' bytes') + '…';
  }
}

// --- a run ----------------------------------------------------------------

// send starts a run. It sends the bytes to the browser's EventSource and to
// the decoder at once. The verdict waits for both.
function send() {
  stop();
  const bytes = state.bytes;
  if (bytes.length > cfg.maxBytes) return;
  const run = {
    id: ++state.runs,
    source: null, // the EventSource
    timer: 0, // calls the run off if the response never ends
    browser: [], // the events the EventSource dispatched, in order
    browserDone: false, // the response ended
    browserNote: '',
    decoder: null, // POST /wire/parse's answer (events, retry)
    decoderNote: '',
    failed: '', // why a column could not fill, in which case there is no verdict
  };
  state.run = run;
  const current = () => state.run === run;

  if (state.supported) {
    const source = new EventSource(cfg.streamURL + '?raw=' + base64url(bytes));
    run.source = source;
    const onEvent = (e) => {
      if (!current()) return;
      if (e instanceof MessageEvent) { // an event of the stream, whatever its name
        run.browser.push({ type: e.type, data: e.data, lastEventId: e.lastEventId });
      } else if (e.type === 'error') { // the connection's own, so the response ended
        const refused = source.readyState === EventSource.CLOSED;
        endBrowser(run, refused ? 'The server refused the stream: the EventSource gave up.' : '');
        if (refused) run.failed = 'the browser could not read the stream.';
      }
      render();
    };
    // An event named error or open reaches the listeners of the
    // EventSource's own events. onEvent tells one from the other.
    for (const name of new Set(['message', 'error', ...eventNames(bytes)])) {
      source.addEventListener(name, onEvent);
    }
    run.timer = setTimeout(() => {
      if (!current() || run.browserDone) return;
      endBrowser(run, 'The response did not end within ' + RUN_TIMEOUT / 1000 + ' s: closed.');
      run.failed = 'the browser\'s column did not finish.';
      render();
    }, RUN_TIMEOUT);
  } else {
    run.browserDone = true;
    run.browserNote = 'This browser has no EventSource.';
    run.failed = 'this browser has no EventSource.';
  }

  fetch(cfg.parseURL, { method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream' }, cache: 'no-store' })
    .then(async (res) => {
      if (!res.ok) throw new Error(res.status + ' ' + (await res.text()).trim());
      return res.json();
    })
    .then((parsed) => {
      if (!current()) return;
      run.decoder = parsed;
      render();
    })
    .catch((err) => {
      if (!current()) return;
      run.decoder = { events: [], retry: null };
      run.decoderNote = 'The decoder did not answer: ' + err.message;
      run.failed = 'the decoder did not answer.';
      render();
    });
  render();
}

// endBrowser closes the run's EventSource, which would reconnect after
// the response ended, and marks its column in.
function endBrowser(run, note) {
  if (run.source) run.source.close();
  clearTimeout(run.timer);
  run.browserDone = true;
  run.browserNote = note;
}

// stop ends the latest run's EventSource, if it is still open.
function stop() {
  if (state.run && !state.run.browserDone) endBrowser(state.run, 'Stopped.');
}

// --- the controls ---------------------------------------------------------

el.input.addEventListener('input', () => {
  state.bytes = readText(el.input.value);
  el.preset.value = ''; // the text is the user's own now
  render();
});
el.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !el.send.disabled) {
    e.preventDefault();
    send();
  }
});
el.preset.addEventListener('change', () => {
  const opt = el.preset.selectedOptions[0];
  if (!opt || opt.value === '') return;
  stop();
  state.run = null;
  el.input.value = opt.dataset.text;
  state.bytes = readText(el.input.value);
  state.rule = opt.dataset.rule;
  render();
});
el.send.addEventListener('click', send);

state.bytes = readText(el.input.value);
render();
