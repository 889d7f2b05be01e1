// logview.js: <berth-log-view>, a streamed log that follows and says what
// it does, for the pod Logs tab and any later streamed log. Its owner
// feeds it what a LogStream (logstream.js) delivers: write(lines, partial)
// and connection = {state, since, message}.
//
// Only the user's own scrolling (wheel, touch, keys, the scrollbar) stops
// following; back at the bottom, End or "Jump to latest" resume it. While
// paused, what is shown stays still and the status counts new lines.
//
// Cost, whatever the rate: the last MAX_LINES lines are kept as data (to
// scroll back to, search and download), but only as many of the newest as
// the box can show are drawn while following, at most every DRAW_MS: the
// lines that scrolled past between two draws were never on screen. The box
// scrolls from its bottom (flex, column-reverse), so the newest line stays
// in view with no scrolling by script; paused, older lines are drawn above,
// MORE at a time, as the reader scrolls up to them.

import { h, button } from './dom.js';
import { parseLine, renderSegments } from '../pod/ansi.js';

const CSS = '/static/css/logview.css';
if (!document.querySelector(`link[href="${CSS}"]`)) document.head.append(h('link', { rel: 'stylesheet', href: CSS }));

export const MAX_LINES = 10000;
const MORE = 500;
const CHUNK = 50; // drawn lines per box the browser skips while off screen
const DRAW_MS = 50; // a \r progress bar is still redrawn 20 times a second
// A longer line shows its start, or after carriage returns its end.
const LINE_MAX = 65536;
const INTENT_MS = 400; // a scroll this soon after input is the user's
const KEYS = /^(Arrow(Up|Down)|Page(Up|Down)|Home|End| )$/;

function bound(text) {
  if (text.length <= LINE_MAX) return text;
  const cr = text.lastIndexOf('\r');
  if (cr > 0 && text.length - cr <= LINE_MAX) return text.slice(cr);
  return `${text.slice(0, LINE_MAX)} … [${(text.length - LINE_MAX).toLocaleString()} more characters]`;
}

const plain = (line) => (line.plain ??= parseLine(line.text).map((s) => s.text).join(''));
const chunk = () => h('div', { class: 'log-chunk' });

class LogView extends HTMLElement {
  connectedCallback() {
    if (this.view) return;
    this.classList.add('log-box');
    this.reset();
    this.following = true;
    this.query = '';
    this.conn = { state: 'connecting' };
    this.intentAt = this.lastTop = this.drawnAt = 0;
    this.fit = 100; // lines the box can show, at the smallest line height

    this.search = h('input', {
      type: 'search', placeholder: 'Search', 'aria-label': 'Search the log', class: 'pod-input',
      oninput: () => { clearTimeout(this.searchTimer); this.searchTimer = setTimeout(() => this.setQuery(this.search.value), 150); },
      onkeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); this.setQuery(this.search.value); this.jumpMatch(e.shiftKey ? -1 : 1); } },
    });
    this.countEl = h('span', { class: 'pod-count', 'aria-live': 'polite' });
    this.tsBox = h('input', { type: 'checkbox', onchange: () => this.dom.forEach((d) => this.render(d)) });
    this.pauseBtn = button('Pause', { 'data-test': 'log-pause', onclick: () => (this.following ? this.pause() : this.follow()) });
    this.tools = h('div', { class: 'pod-toolbar' },
      h('div', { class: 'pod-search' }, this.search, this.countEl,
        button('↑', { kind: 'small', 'aria-label': 'Previous match', onclick: () => this.jumpMatch(-1) }),
        button('↓', { kind: 'small', 'aria-label': 'Next match', onclick: () => this.jumpMatch(1) })),
      h('label', { class: 'pod-check' }, this.tsBox, 'Timestamps'),
      h('span', { class: 'pod-toolbar-end' }, this.pauseBtn, button('Download', { onclick: () => this.download() })));
    this.statusText = h('span');
    this.status = h('div', { class: 'log-status', role: 'status', 'data-test': 'log-status' }, this.statusText);
    this.notice = h('div', { class: 'log-notice', hidden: true });
    this.older = h('div');
    this.tail = h('div');
    this.openEl = h('div', { class: 'log-line', hidden: true });
    this.body = h('div', { class: 'log-body', 'data-empty': '' }, this.notice, this.older, this.tail, this.openEl);
    const v = h('div', { class: 'log-view', 'data-test': 'log-view', tabindex: '0', role: 'log', 'aria-live': 'off', 'aria-label': 'Log output' }, this.body);
    this.view = v;
    this.jumpBtn = button('Jump to latest ↓', { class: 'btn btn-small log-jump', 'data-test': 'log-jump', hidden: true, onclick: () => this.follow() });
    this.append(this.tools, this.status, h('div', { class: 'log-wrap' }, v, this.jumpBtn));

    const intent = () => { this.intentAt = performance.now(); };
    v.addEventListener('wheel', (e) => { intent(); if (e.deltaY < 0 && this.scrollable()) this.pause(); }, { passive: true });
    v.addEventListener('touchmove', intent, { passive: true });
    v.addEventListener('keydown', (e) => {
      if (!KEYS.test(e.key)) return;
      intent();
      // Home and End go to the top and to the newest line, whichever way the box scrolls.
      if (e.key === 'End') { e.preventDefault(); this.follow(); return; }
      if (!/Up|Home/.test(e.key) || !this.scrollable()) return;
      this.pause();
      if (e.key === 'Home') { e.preventDefault(); this.more(); v.scrollTop = -v.scrollHeight; }
    });
    // A press beside the content is on the scrollbar: the user takes hold
    // of the view, and following stops at once, as a wheel turned up stops
    // it. While held, the drawn lines stay as they are: the browser drags
    // the thumb against the box as it was when pressed (on its compositor),
    // and older lines drawn under the drag would land it elsewhere, even at
    // the bottom. Its scroll can reach the page after the release (a busy
    // tab), so the drag lasts until its first scroll event after it.
    v.addEventListener('pointerdown', (e) => {
      if (e.target !== v || (e.offsetX < v.clientWidth && e.offsetY < v.clientHeight)) return;
      intent();
      if (this.following && this.scrollable()) this.pause();
      this.dragging = this.holding = true;
      // The press ends on release, or when the browser takes the pointer
      // over (pointercancel: a touch turned into a pan, a window switch).
      const ended = new AbortController();
      const release = () => { ended.abort(); this.holding = false; this.released = true; intent(); this.moreNearTop(); };
      window.addEventListener('pointerup', release, { signal: ended.signal });
      window.addEventListener('pointercancel', release, { signal: ended.signal });
    });
    v.addEventListener('scroll', () => this.scrolled());
    new ResizeObserver(([e]) => { this.fit = Math.ceil(e.contentRect.height / 16) + 10; }).observe(v);
    this.renderStatus();
  }

  disconnectedCallback() {
    clearInterval(this.ticker);
    clearTimeout(this.timer);
    cancelAnimationFrame(this.frame);
    this.frame = this.timer = 0;
  }

  reset() {
    this.lines = []; // the data, oldest first: {ts, text, marks, plain}
    this.first = 0; // the number of lines[0] in the log
    this.total = 0; // the number of the next line
    this.dom = []; // drawn lines, in order: {line, seq, el}
    this.drawnTo = 0; // lines before this number are drawn or were skipped
    this.next = null; // the unfinished line
    this.matches = 0;
    this.current = null;
  }

  clear() {
    this.reset();
    this.older.replaceChildren();
    this.tail.replaceChildren();
    this.openEl.hidden = this.notice.hidden = true;
    this.body.toggleAttribute('data-empty', true);
    this.follow();
  }

  scrollable() { return this.view.scrollHeight > this.view.clientHeight + 1; }

  /** scrolled judges a scroll: only one the user made changes following. */
  scrolled() {
    const top = this.view.scrollTop; // from the bottom: 0 there, negative above
    const prev = this.lastTop;
    this.lastTop = top;
    this.moreNearTop();
    const dragged = this.dragging;
    if (this.released && (top < -4 || top > prev)) this.dragging = this.released = false;
    if (!dragged && performance.now() - this.intentAt > INTENT_MS) return;
    // Only a scroll down to the bottom from above it resumes: a smooth
    // PageUp or a drag starts with a step of a pixel or two, still "at the
    // bottom", and a pressed thumb can shift by one.
    if (top >= -4) { if (!this.following && prev < -4) this.follow(); } else if (this.following && (top < prev - 1 || dragged)) this.pause();
  }

  /** moreNearTop draws older lines, paused, as the reader nears the top, unless the scrollbar is held. */
  moreNearTop() {
    const v = this.view;
    if (!this.following && !this.holding && v.scrollTop - (v.clientHeight - v.scrollHeight) < v.clientHeight) this.more();
  }

  pause() {
    this.following = false;
    this.renderStatus();
  }

  /**
   * follow keeps the newest line in view. What the user did before asking
   * is spent: a scroll it still causes (a smooth PageUp running on) is not
   * theirs, and does not pause again.
   */
  follow() {
    this.following = this.snap = true;
    this.intentAt = 0;
    this.dragging = this.released = this.holding = false;
    this.schedule();
    this.renderStatus();
  }

  /**
   * write takes complete lines [{ts, text}] and the unfinished line
   * ({ts, text} or null), which supersedes the one before.
   */
  write(lines, partial) {
    for (const src of lines) {
      const line = { ts: src.ts, text: bound(src.text) };
      if (this.query) this.mark(line);
      this.lines.push(line);
    }
    this.total += lines.length;
    this.next = partial;
    if (this.lines.length > MAX_LINES + MORE) {
      const n = this.lines.length - MAX_LINES;
      for (const l of this.lines.splice(0, n)) this.matches -= l.marks || 0;
      this.first += n;
      this.notice.hidden = false;
      this.notice.textContent = `${this.first.toLocaleString()} older lines dropped: the view keeps the last ${MAX_LINES.toLocaleString()}.`;
    }
    this.schedule();
  }

  schedule() {
    if (this.frame || this.timer || !this.isConnected) return;
    const wait = this.drawnAt + DRAW_MS - performance.now();
    if (wait > 0) this.timer = setTimeout(() => { this.timer = 0; this.schedule(); }, wait);
    else this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.frame = 0;
    this.drawnAt = performance.now();
    if (this.following) {
      if (this.older.firstChild) {
        this.older.replaceChildren();
        this.dom = this.dom.filter((d) => d.el.parentNode.parentNode === this.tail);
      }
      const from = Math.max(this.drawnTo, this.total - this.fit, this.first);
      if (from > this.drawnTo) this.drop(this.dom.length);
      let c = this.tail.lastChild;
      for (let seq = from; seq < this.total; seq++) {
        if (!c || c.childElementCount >= CHUNK) c = this.tail.appendChild(chunk());
        c.append(this.draw1(seq, this.dom).el);
      }
      this.drawnTo = this.total;
      if (this.dom.length > this.fit + CHUNK) this.drop(this.dom.length - this.fit);
      const p = this.next;
      if (p) this.render({ line: { ts: p.ts, text: bound(p.text) }, el: this.openEl });
      this.openEl.hidden = !p;
      this.body.toggleAttribute('data-empty', !this.total && !p);
      if (this.query) this.updateCount();
      // Following, the view is at the newest line whatever scrolled it.
      if (this.snap || (this.following && this.lastTop)) this.view.scrollTop = this.lastTop = this.snap = 0;
    }
    this.renderStatus();
  }

  draw1(seq, into) {
    const d = { line: this.lines[seq - this.first], seq, el: document.createElement('div') };
    d.el.className = d.line.marker ? 'log-line log-marker' : 'log-line';
    this.render(d);
    into.push(d);
    return d;
  }

  /** drop removes the n oldest drawn lines. */
  drop(n) {
    for (const d of this.dom.splice(0, n)) {
      const c = d.el.parentNode;
      d.el.remove();
      if (!c.firstChild) c.remove();
    }
  }

  /** more draws, while paused, up to MORE older lines above those drawn. */
  more() {
    const top = this.dom[0]?.seq ?? this.drawnTo;
    const add = [];
    const frag = document.createDocumentFragment();
    let c;
    for (let seq = Math.max(this.first, top - MORE); seq < top; seq++) {
      if (!c || c.childElementCount >= CHUNK) c = frag.appendChild(chunk());
      c.append(this.draw1(seq, add).el);
    }
    this.older.prepend(frag);
    this.dom = add.concat(this.dom);
  }

  render({ line, el }) {
    const segs = parseLine(line.text);
    const marks = [];
    const q = this.query;
    if (q) {
      const hay = segs.map((s) => s.text).join('').toLowerCase();
      for (let i = hay.indexOf(q); i >= 0; i = hay.indexOf(q, i + q.length)) marks.push([i, i + q.length]);
    }
    if (marks.length || el.classList.contains('log-match')) el.classList.toggle('log-match', marks.length > 0);
    renderSegments(el, segs, marks);
    if (this.tsBox.checked && line.ts) el.dataset.ts = line.ts.replace(/(\.\d{3})\d*/, '$1');
    else delete el.dataset.ts;
  }

  /** marker adds a line of the view's own (— container ended —). */
  marker(text) {
    this.write([{ ts: '', text }], null);
    this.lines[this.lines.length - 1].marker = true;
  }

  set connection(st) {
    this.conn = st;
    clearInterval(this.ticker);
    if (st.since) this.ticker = setInterval(() => this.renderStatus(), 1000);
    this.renderStatus();
  }

  renderStatus() {
    const { state, since, message } = this.conn;
    let text;
    if (state === 'open') text = this.following ? 'Following' : '';
    else if (state === 'failed') text = message || 'The log could not be read.';
    else if (state === 'ended') text = message || 'Not following: the log ended.';
    else if (since) text = `Reconnecting… The log is unknown since ${since.toLocaleTimeString()} (${Math.round((Date.now() - since) / 1000)} s)${message ? ` — ${message}` : ''}`;
    else text = 'Connecting…';
    if (!this.following) {
      const n = this.total - this.drawnTo;
      text = `Paused — ${n.toLocaleString()} new line${n === 1 ? '' : 's'}${text ? ` · ${text}` : ''}`;
    }
    // Each draw asks; only a change is written (a write, even of the same
    // value, makes the browser restyle).
    const st = { follow: this.following ? 'following' : 'paused', conn: state, transport: this.conn.transport || '' };
    const key = `${text}\n${st.follow}\n${st.conn}\n${st.transport}`;
    if (key === this.shownStatus) return;
    this.shownStatus = key;
    if (this.statusText.textContent !== text) this.statusText.textContent = text;
    Object.assign(this.status.dataset, st);
    this.jumpBtn.hidden = this.following;
    this.pauseBtn.textContent = this.following ? 'Pause' : 'Follow';
  }

  mark(line) {
    let n = 0;
    const hay = plain(line).toLowerCase();
    for (let i = hay.indexOf(this.query); i >= 0; i = hay.indexOf(this.query, i + this.query.length)) n++;
    this.matches += n - (line.marks || 0);
    line.marks = n;
  }

  setQuery(q) {
    q = q.toLowerCase();
    if (q === this.query) return;
    this.query = q;
    this.current = null;
    this.matches = 0;
    for (const l of this.lines) {
      l.marks = 0;
      if (q) this.mark(l);
    }
    this.dom.forEach((d) => this.render(d));
    this.updateCount();
  }

  updateCount() {
    this.countEl.textContent = this.query ? `${this.matches} match${this.matches === 1 ? '' : 'es'}` : '';
  }

  jumpMatch(dir) {
    const n = this.lines.length;
    if (!this.query || !this.matches) return;
    let i = this.current === null ? (dir > 0 ? -1 : n) : this.current - this.first;
    for (let k = 0; k < n; k++) {
      i = (i + dir + n) % n;
      if (this.lines[i].marks) break;
    }
    this.pause();
    const seq = this.first + i;
    while (!(this.dom[0]?.seq <= seq) && (this.dom[0]?.seq ?? this.drawnTo) > this.first) this.more();
    this.view.querySelector('.log-current')?.classList.remove('log-current');
    this.current = seq;
    const d = this.dom.find((x) => x.seq === seq);
    d?.el.classList.add('log-current');
    d?.el.scrollIntoView({ block: 'center' });
  }

  /** text is the log the view keeps, a line each (timestamped when shown). */
  text() {
    return this.lines.map((l) => (this.tsBox.checked && l.ts ? `${l.ts} ` : '') + plain(l));
  }

  download() {
    const url = URL.createObjectURL(new Blob([this.text().join('\n') + '\n'], { type: 'text/plain' }));
    const a = h('a', { href: url, download: `${this.getAttribute('download-name') || 'log'}.log`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
}

customElements.define('berth-log-view', LogView);
