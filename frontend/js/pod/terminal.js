// terminal.js: <berth-terminal>, a small terminal emulator written for
// the console (no third-party code). It keeps a grid of rows × cols cells
// and renders each row as a .term-row element of text runs, so the screen
// is real text (selectable, readable by tests and screen readers).
//
// It understands what busybox sh, vi and top use: printable UTF-8, CR, LF,
// BS, TAB, BEL; CSI cursor movement (A B C D E F G H f d), erase (J K X),
// insert/delete (L M P @), scroll (S T, regions with r), SGR (16 and 256
// colours, bold, underline, inverse), save/restore cursor (s u, ESC 7 8),
// device status reports, the alternate screen (1049) and the cursor keys
// mode. Other sequences are read and dropped.
//
// API: write(bytes|string), notice(text), reset(), focus(); properties
// onData(string) (what the user typed, as bytes to send) and
// onResize(cols, rows); cols and rows.

import { sgr, applyStyle } from './ansi.js';

const DEF = 256;
const BOLD = 1 << 18;
const UL = 1 << 19;
const INV = 1 << 20;
const DEFAULT_ATTR = DEF | (DEF << 9);
const SCROLLBACK = 1000;

function pack(s) {
  return (s.fg ?? DEF) | ((s.bg ?? DEF) << 9) | (s.bold ? BOLD : 0) | (s.underline ? UL : 0) | (s.inverse ? INV : 0);
}

function unpack(a) {
  const fg = a & 0x1ff;
  const bg = (a >> 9) & 0x1ff;
  return { fg: fg === DEF ? null : fg, bg: bg === DEF ? null : bg, bold: !!(a & BOLD), underline: !!(a & UL), inverse: !!(a & INV) };
}

const KEYS = {
  Enter: '\r', Tab: '\t', Escape: '\x1b', Home: '\x1b[H', End: '\x1b[F', Insert: '\x1b[2~', Delete: '\x1b[3~',
  PageUp: '\x1b[5~', PageDown: '\x1b[6~', F1: '\x1bOP', F2: '\x1bOQ', F3: '\x1bOR', F4: '\x1bOS', F5: '\x1b[15~',
  F6: '\x1b[17~', F7: '\x1b[18~', F8: '\x1b[19~', F9: '\x1b[20~', F10: '\x1b[21~', F11: '\x1b[23~', F12: '\x1b[24~',
};
const ARROWS = { ArrowUp: 'A', ArrowDown: 'B', ArrowRight: 'C', ArrowLeft: 'D' };
const CTRL_SYMBOLS = { '@': 0, ' ': 0, 2: 0, '[': 27, 3: 27, '\\': 28, 4: 28, ']': 29, 5: 29, '^': 30, 6: 30, _: 31, '-': 31, 7: 31, '?': 127, 8: 127 };

class Terminal extends HTMLElement {
  constructor() {
    super();
    this.cols = 80;
    this.rows = 24;
    this.onData = null;
    this.onResize = null;
    this.decoder = new TextDecoder();
    this.follow = true;
    this.resetState();
  }

  resetState() {
    this.pen = { fg: null, bg: null, bold: false, underline: false, inverse: false };
    this.attr = DEFAULT_ATTR;
    this.x = 0;
    this.y = 0;
    this.wrapPending = false;
    this.top = 0;
    this.bottom = this.rows - 1;
    this.saved = null;
    this.cursorVisible = true;
    this.appCursor = false;
    this.bracketed = false;
    this.autowrap = true;
    this.insertMode = false;
    this.altActive = false;
    this.state = 0; // 0 ground, 1 ESC, 2 CSI, 3 OSC/string, 4 skip one, 5 ESC inside a string
    this.seq = '';
    this.main = this.blankScreen();
    this.alt = null;
    this.buf = this.main;
  }

  connectedCallback() {
    if (this.built) { this.observer?.observe(this); return; }
    this.built = true;
    this.classList.add('term');
    this.tabIndex = 0;
    this.dataset.test = 'terminal';
    this.setAttribute('role', 'application');
    if (!this.hasAttribute('aria-label')) this.setAttribute('aria-label', 'Terminal');
    this.back = document.createElement('div');
    this.back.className = 'term-back';
    this.screen = document.createElement('div');
    this.screen.className = 'term-screen';
    this.measureEl = document.createElement('span');
    this.measureEl.className = 'term-measure';
    this.measureEl.setAttribute('aria-hidden', 'true');
    this.measureEl.textContent = 'W'.repeat(20);
    this.append(this.back, this.screen, this.measureEl);
    this.rowEls = [];
    this.syncRows();
    this.addEventListener('keydown', (e) => this.onKey(e));
    this.addEventListener('paste', (e) => this.onPaste(e));
    this.addEventListener('scroll', () => { this.follow = this.scrollTop + this.clientHeight >= this.scrollHeight - 4; });
    this.addEventListener('focus', () => this.classList.add('term-focused'));
    this.addEventListener('blur', () => this.classList.remove('term-focused'));
    this.observer = new ResizeObserver(() => this.fit());
    this.observer.observe(this);
    this.dirtyAll();
  }

  disconnectedCallback() { this.observer?.disconnect(); }

  blankLine(attr = DEFAULT_ATTR) {
    return { chars: new Array(this.cols).fill(' '), attrs: new Array(this.cols).fill(attr), dirty: true };
  }

  blankScreen() { return Array.from({ length: this.rows }, () => this.blankLine()); }

  /** fit sizes the grid to the element from a measured character cell. */
  fit() {
    if (!this.clientWidth || !this.measureEl) return;
    const r = this.measureEl.getBoundingClientRect();
    const cw = r.width / 20;
    const ch = r.height;
    if (!cw || !ch) return;
    const cs = getComputedStyle(this);
    const w = this.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const hgt = this.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    const cols = Math.max(20, Math.min(500, Math.floor(w / cw)));
    const rows = Math.max(5, Math.min(200, Math.floor(hgt / ch)));
    if (cols !== this.cols || rows !== this.rows) this.resize(cols, rows);
  }

  resize(cols, rows) {
    const fix = (screen, isMain) => {
      for (const l of screen) {
        if (l.chars.length > cols) { l.chars.length = cols; l.attrs.length = cols; }
        while (l.chars.length < cols) { l.chars.push(' '); l.attrs.push(DEFAULT_ATTR); }
        l.dirty = true;
      }
      if (screen === this.buf && this.y >= rows) {
        const n = this.y - rows + 1;
        const gone = screen.splice(0, n);
        if (isMain) gone.forEach((l) => this.pushBack(l));
        this.y -= n;
        if (this.saved) this.saved.y = Math.max(0, this.saved.y - n);
      }
      if (screen.length > rows) screen.length = rows;
      this.cols = cols;
      while (screen.length < rows) screen.push(this.blankLine());
      return screen;
    };
    this.cols = cols;
    fix(this.main, true);
    if (this.alt) fix(this.alt, false);
    this.rows = rows;
    this.top = 0;
    this.bottom = rows - 1;
    this.x = Math.min(this.x, cols - 1);
    this.y = Math.min(this.y, rows - 1);
    this.wrapPending = false;
    this.syncRows();
    this.dirtyAll();
    this.onResize?.(cols, rows);
  }

  syncRows() {
    while (this.rowEls.length < this.rows) {
      const el = document.createElement('div');
      el.className = 'term-row';
      this.screen.append(el);
      this.rowEls.push(el);
    }
    while (this.rowEls.length > this.rows) this.rowEls.pop().remove();
  }

  dirtyAll() {
    for (const l of this.buf) l.dirty = true;
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  /** write feeds output of the program (bytes as UTF-8, or a string). */
  write(data) {
    const s = typeof data === 'string' ? data : this.decoder.decode(data, { stream: true });
    this.parse(s);
    this.schedule();
  }

  /** notice writes a line of its own in grey (session messages). */
  notice(text) {
    this.write(`${this.x > 0 || this.wrapPending ? '\r\n' : ''}\x1b[0;90m${text}\x1b[0m\r\n`);
  }

  reset() {
    this.back.textContent = '';
    this.resetState();
    this.dirtyAll();
  }

  emit(s) { if (s) this.onData?.(s); }

  // --- parser ---------------------------------------------------------

  parse(s) {
    for (const ch of s) {
      const c = ch.codePointAt(0);
      switch (this.state) {
        case 0:
          if (c >= 0x20 && c !== 0x7f) this.print(ch);
          else this.control(c);
          break;
        case 1: this.escape(ch); break;
        case 2:
          if (c >= 0x40 && c <= 0x7e) { this.state = 0; this.csi(this.seq, ch); }
          else if (c === 0x1b) { this.state = 1; }
          else if (c < 0x20) this.control(c);
          else if (this.seq.length < 64) this.seq += ch;
          break;
        case 3:
          if (c === 0x07) this.state = 0;
          else if (c === 0x1b) this.state = 5;
          break;
        case 4: this.state = 0; break;
        case 5: this.state = ch === '\\' ? 0 : 3; break;
        default: this.state = 0;
      }
    }
  }

  control(c) {
    switch (c) {
      case 0x1b: this.state = 1; break;
      case 0x0d: this.x = 0; this.wrapPending = false; break;
      case 0x0a: case 0x0b: case 0x0c: this.lineFeed(); break;
      case 0x08: this.x = Math.max(0, Math.min(this.x, this.cols - 1) - 1); this.wrapPending = false; break;
      case 0x09: this.x = Math.min(this.cols - 1, (Math.floor(this.x / 8) + 1) * 8); this.wrapPending = false; break;
      case 0x07: this.bell(); break;
      default: break;
    }
  }

  escape(ch) {
    this.state = 0;
    switch (ch) {
      case '[': this.state = 2; this.seq = ''; break;
      case ']': case 'P': case 'X': case '^': case '_': this.state = 3; break;
      case '(': case ')': case '*': case '+': case '-': case '.': case '/': case '#': case '%': case ' ': this.state = 4; break;
      case '7': this.saveCursor(); break;
      case '8': this.restoreCursor(); break;
      case 'D': this.lineFeed(true); break;
      case 'E': this.x = 0; this.lineFeed(true); break;
      case 'M': this.reverseIndex(); break;
      case 'c': this.reset(); break;
      default: break;
    }
  }

  print(ch) {
    if (this.wrapPending) {
      this.wrapPending = false;
      this.x = 0;
      this.lineFeed(true);
    }
    const line = this.buf[this.y];
    if (this.insertMode) {
      line.chars.splice(this.x, 0, ' '); line.chars.length = this.cols;
      line.attrs.splice(this.x, 0, this.attr); line.attrs.length = this.cols;
    }
    line.chars[this.x] = ch;
    line.attrs[this.x] = this.attr;
    line.dirty = true;
    if (this.x >= this.cols - 1) { if (this.autowrap) this.wrapPending = true; }
    else this.x++;
  }

  lineFeed(noEol) {
    if (this.convertEol && !noEol) this.x = 0;
    this.wrapPending = false;
    if (this.y === this.bottom) this.scrollUp(1);
    else if (this.y < this.rows - 1) this.y++;
  }

  reverseIndex() {
    this.wrapPending = false;
    if (this.y === this.top) this.scrollDown(1);
    else if (this.y > 0) this.y--;
  }

  eraseAttr() { return pack({ bg: this.pen.bg }); }

  scrollUp(n) {
    n = Math.min(n, this.bottom - this.top + 1);
    for (let k = 0; k < n; k++) {
      const line = this.buf.splice(this.top, 1)[0];
      this.buf.splice(this.bottom, 0, this.blankLine(this.eraseAttr()));
      const el = this.rowEls.splice(this.top, 1)[0];
      const fresh = document.createElement('div');
      fresh.className = 'term-row';
      this.screen.insertBefore(fresh, this.rowEls[this.bottom] || null);
      this.rowEls.splice(this.bottom, 0, fresh);
      if (this.top === 0 && !this.altActive) {
        this.renderRow(el, line, -1);
        this.back.append(el);
        if (this.back.childElementCount > SCROLLBACK) this.back.firstElementChild.remove();
      } else el.remove();
    }
  }

  scrollDown(n) {
    n = Math.min(n, this.bottom - this.top + 1);
    for (let k = 0; k < n; k++) {
      this.buf.splice(this.bottom, 1);
      this.buf.splice(this.top, 0, this.blankLine(this.eraseAttr()));
    }
    for (let i = this.top; i <= this.bottom; i++) this.buf[i].dirty = true;
  }

  pushBack(line) {
    const el = document.createElement('div');
    el.className = 'term-row';
    this.renderRow(el, line, -1);
    this.back.append(el);
    if (this.back.childElementCount > SCROLLBACK) this.back.firstElementChild.remove();
  }

  erase(y, from, to) {
    const line = this.buf[y];
    const a = this.eraseAttr();
    for (let i = Math.max(0, from); i < Math.min(this.cols, to); i++) { line.chars[i] = ' '; line.attrs[i] = a; }
    line.dirty = true;
  }

  saveCursor() { this.saved = { x: this.x, y: this.y, style: { ...this.pen }, wrap: this.wrapPending }; }

  restoreCursor() {
    const s = this.saved || { x: 0, y: 0, style: { fg: null, bg: null }, wrap: false };
    this.x = Math.min(s.x, this.cols - 1);
    this.y = Math.min(s.y, this.rows - 1);
    this.pen = { ...s.style };
    this.attr = pack(this.pen);
    this.wrapPending = s.wrap;
  }

  setAlt(on) {
    if (on === this.altActive) return;
    if (on) {
      this.saveCursor();
      this.alt = this.blankScreen();
      this.buf = this.alt;
    } else {
      this.buf = this.main;
      this.alt = null;
      this.restoreCursor();
    }
    this.altActive = on;
    this.top = 0;
    this.bottom = this.rows - 1;
    this.dirtyAll();
  }

  csi(seq, final) {
    let prefix = '';
    if (/^[?>=<]/.test(seq)) { prefix = seq[0]; seq = seq.slice(1); }
    if (/[\x20-\x2f]/.test(seq)) return; // intermediates: cursor style and the like
    const params = seq === '' ? [] : seq.split(/[;:]/).map((p) => parseInt(p, 10) || 0);
    const p = (i, d = 1) => params[i] || d;
    const clampY = (v) => Math.max(0, Math.min(this.rows - 1, v));
    const clampX = (v) => Math.max(0, Math.min(this.cols - 1, v));
    const line = this.buf[this.y];
    if (final !== 'm') this.wrapPending = false;
    if (prefix === '?') {
      if (final !== 'h' && final !== 'l') return;
      const on = final === 'h';
      for (const m of params) {
        if (m === 1) this.appCursor = on;
        else if (m === 7) this.autowrap = on;
        else if (m === 25) { this.cursorVisible = on; line.dirty = true; }
        else if (m === 47 || m === 1047 || m === 1049) this.setAlt(on);
        else if (m === 2004) this.bracketed = on;
      }
      return;
    }
    if (prefix === '>' && final === 'c') { this.emit('\x1b[>0;0;0c'); return; }
    if (prefix) return;
    switch (final) {
      case 'A': this.y = Math.max(this.y >= this.top ? this.top : 0, this.y - p(0)); break;
      case 'B': case 'e': this.y = Math.min(this.y <= this.bottom ? this.bottom : this.rows - 1, this.y + p(0)); break;
      case 'C': case 'a': this.x = clampX(this.x + p(0)); break;
      case 'D': this.x = clampX(Math.min(this.x, this.cols - 1) - p(0)); break;
      case 'E': this.x = 0; this.y = clampY(this.y + p(0)); break;
      case 'F': this.x = 0; this.y = clampY(this.y - p(0)); break;
      case 'G': case '`': this.x = clampX(p(0) - 1); break;
      case 'd': this.y = clampY(p(0) - 1); break;
      case 'H': case 'f': this.y = clampY(p(0) - 1); this.x = clampX(p(1) - 1); break;
      case 'J': {
        const m = params[0] || 0;
        if (m === 0) { this.erase(this.y, this.x, this.cols); for (let y = this.y + 1; y < this.rows; y++) this.erase(y, 0, this.cols); }
        else if (m === 1) { this.erase(this.y, 0, this.x + 1); for (let y = 0; y < this.y; y++) this.erase(y, 0, this.cols); }
        else {
          for (let y = 0; y < this.rows; y++) this.erase(y, 0, this.cols);
          if (m === 3) this.back.textContent = '';
        }
        break;
      }
      case 'K': {
        const m = params[0] || 0;
        if (m === 0) this.erase(this.y, this.x, this.cols);
        else if (m === 1) this.erase(this.y, 0, this.x + 1);
        else this.erase(this.y, 0, this.cols);
        break;
      }
      case 'X': this.erase(this.y, this.x, this.x + p(0)); break;
      case 'P': {
        const n = Math.min(p(0), this.cols - this.x);
        line.chars.splice(this.x, n); line.attrs.splice(this.x, n);
        for (let i = 0; i < n; i++) { line.chars.push(' '); line.attrs.push(this.eraseAttr()); }
        line.dirty = true;
        break;
      }
      case '@': {
        const n = Math.min(p(0), this.cols - this.x);
        line.chars.splice(this.x, 0, ...new Array(n).fill(' ')); line.chars.length = this.cols;
        line.attrs.splice(this.x, 0, ...new Array(n).fill(this.eraseAttr())); line.attrs.length = this.cols;
        line.dirty = true;
        break;
      }
      case 'L': case 'M': {
        if (this.y < this.top || this.y > this.bottom) break;
        const saveTop = this.top;
        this.top = this.y;
        if (final === 'L') this.scrollDown(p(0));
        else {
          // Delete lines without sending them to the scrollback.
          const n = Math.min(p(0), this.bottom - this.y + 1);
          for (let k = 0; k < n; k++) { this.buf.splice(this.y, 1); this.buf.splice(this.bottom, 0, this.blankLine(this.eraseAttr())); }
          for (let i = this.y; i <= this.bottom; i++) this.buf[i].dirty = true;
        }
        this.top = saveTop;
        this.x = 0;
        break;
      }
      case 'S': this.scrollUp(p(0)); break;
      case 'T': this.scrollDown(p(0)); break;
      case 'm':
        this.pen = sgr(this.pen, params);
        this.attr = pack(this.pen);
        break;
      case 'r': {
        const t = p(0) - 1;
        const b = Math.min(this.rows, p(1, this.rows)) - 1;
        if (t < b) { this.top = t; this.bottom = b; this.x = 0; this.y = 0; }
        break;
      }
      case 's': this.saveCursor(); break;
      case 'u': this.restoreCursor(); break;
      case 'n':
        if (params[0] === 5) this.emit('\x1b[0n');
        else if (params[0] === 6) this.emit(`\x1b[${this.y + 1};${Math.min(this.x, this.cols - 1) + 1}R`);
        break;
      case 'c': this.emit('\x1b[?1;2c'); break;
      case 'h': case 'l': if (params.includes(4)) this.insertMode = final === 'h'; break;
      default: break;
    }
  }

  bell() {
    this.classList.add('term-bell');
    clearTimeout(this.bellTimer);
    this.bellTimer = setTimeout(() => this.classList.remove('term-bell'), 150);
  }

  // --- rendering ------------------------------------------------------

  render() {
    if (!this.rowEls) return;
    // The line that showed the cursor and the one that shows it now.
    if (this.cursorLine) this.cursorLine.dirty = true;
    this.cursorLine = this.buf[this.y];
    this.cursorLine.dirty = true;
    for (let i = 0; i < this.rows; i++) {
      const line = this.buf[i];
      if (!line.dirty) continue;
      line.dirty = false;
      this.renderRow(this.rowEls[i], line, i === this.y && this.cursorVisible ? Math.min(this.x, this.cols - 1) : -1);
    }
    if (this.follow) this.scrollTop = this.scrollHeight;
  }

  renderRow(el, line, cx) {
    el.textContent = '';
    let end = line.chars.length;
    while (end > 0 && line.chars[end - 1] === ' ' && line.attrs[end - 1] === DEFAULT_ATTR) end--;
    end = Math.max(end, cx + 1);
    let run = '';
    let runAttr = DEFAULT_ATTR;
    const flush = () => {
      if (!run) return;
      if (runAttr === DEFAULT_ATTR) el.append(run);
      else {
        const span = document.createElement('span');
        span.textContent = run;
        applyStyle(span, unpack(runAttr));
        el.append(span);
      }
      run = '';
    };
    for (let c = 0; c < end; c++) {
      const a = line.attrs[c];
      if (c === cx) {
        flush();
        const cur = document.createElement('span');
        cur.className = 'term-cursor';
        cur.textContent = line.chars[c];
        applyStyle(cur, unpack(a));
        el.append(cur);
        runAttr = DEFAULT_ATTR;
        continue;
      }
      if (a !== runAttr) { flush(); runAttr = a; }
      run += line.chars[c];
    }
    flush();
  }

  // --- input ----------------------------------------------------------

  onKey(e) {
    if (e.isComposing || e.keyCode === 229 || e.metaKey) return;
    const k = e.key;
    if (k === 'Tab' && e.shiftKey) return; // Shift+Tab leaves the terminal
    if (e.ctrlKey && e.shiftKey && /^[cv]$/i.test(k)) return; // copy, paste
    if (e.ctrlKey && !e.altKey && (k === 'v' || k === 'V')) return; // paste
    let s = null;
    if (ARROWS[k]) s = (this.appCursor ? '\x1bO' : '\x1b[') + ARROWS[k];
    else if (k === 'Backspace') s = e.ctrlKey ? '\x08' : '\x7f';
    else if (KEYS[k]) s = KEYS[k];
    else if ([...k].length === 1) {
      if (e.ctrlKey && !e.altKey) {
        if (/^[a-z]$/i.test(k)) s = String.fromCharCode(k.toUpperCase().charCodeAt(0) & 31);
        else if (k in CTRL_SYMBOLS) s = String.fromCharCode(CTRL_SYMBOLS[k]);
      } else {
        s = k;
        if (e.altKey && !e.ctrlKey) s = '\x1b' + k;
      }
    }
    if (s === null) return;
    e.preventDefault();
    this.follow = true;
    this.emit(s);
  }

  onPaste(e) {
    const text = e.clipboardData?.getData('text/plain');
    e.preventDefault();
    if (!text) return;
    const body = text.replace(/\r?\n/g, '\r');
    this.follow = true;
    this.emit(this.bracketed ? `\x1b[200~${body}\x1b[201~` : body);
  }

  /** text is the screen's visible text, rows joined by newlines. */
  get text() { return this.rowEls.map((r) => r.textContent).join('\n'); }
}

customElements.define('berth-terminal', Terminal);
