// terminal.js: <berth-terminal>, the console's terminal: xterm.js (MIT)
// with its fit and web-links add-ons, vendored in /static/vendor and
// loaded by the first terminal shown. xterm.js reads its keyboard through
// a hidden textarea, which is what lets phone keyboards and input methods
// type into it, and it measures wide characters as two cells.
//
// API: write(bytes|string), notice(text), reset(), focus(); properties
// onData(string) (what the user typed, to send) and onResize(cols, rows);
// cols, rows, convertEol, and xterm (the xterm.js Terminal, once loaded).

const vendor = (name) => new URL(`../../vendor/${name}`, import.meta.url).href;

let loaded;

/** loadXterm resolves to the xterm.js classes, loading them and their CSS once. */
function loadXterm() {
  loaded ||= Promise.all([
    new Promise((resolve, reject) => {
      const css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = vendor('xterm.css');
      css.onload = resolve;
      css.onerror = () => reject(new Error('cannot load the terminal’s style'));
      document.head.append(css);
    }),
    import(vendor('xterm.mjs')),
    import(vendor('xterm-addon-fit.mjs')),
    import(vendor('xterm-addon-web-links.mjs')),
  ]).then(([, { Terminal }, { FitAddon }, { WebLinksAddon }]) => ({ Terminal, FitAddon, WebLinksAddon }));
  loaded.catch(() => { loaded = null; });
  return loaded;
}

// The log view's colours (logview.css), so that logs and terminal agree.
const THEME = {
  background: '#12161c', foreground: '#d7dde5', cursor: '#d7dde5', cursorAccent: '#12161c', selectionBackground: '#3e4c59',
  black: '#3e4c59', red: '#ef6b73', green: '#7bc96f', yellow: '#e5c07b', blue: '#61a6fa', magenta: '#c678dd', cyan: '#56c8d8', white: '#d7dde5',
  brightBlack: '#7b8794', brightRed: '#ff8a92', brightGreen: '#a2e596', brightYellow: '#ffe08a', brightBlue: '#8cc2ff',
  brightMagenta: '#e0a3f0', brightCyan: '#8be9f5', brightWhite: '#ffffff',
};

class BerthTerminal extends HTMLElement {
  constructor() {
    super();
    this.onData = null;
    this.onResize = null;
    this.xterm = null;
    this.pending = []; // output written before xterm.js loaded
    this._convertEol = false;
  }

  connectedCallback() {
    this.observer?.observe(this);
    if (this.built) return;
    this.built = true;
    this.classList.add('term');
    this.dataset.test = 'terminal';
    loadXterm().then((lib) => this.open(lib), (err) => {
      this.textContent = `${err.message}: reload the page to try again.`;
    });
  }

  disconnectedCallback() { this.observer?.disconnect(); }

  open({ Terminal, FitAddon, WebLinksAddon }) {
    const font = getComputedStyle(this);
    const term = new Terminal({
      fontFamily: font.fontFamily,
      fontSize: parseFloat(font.fontSize) || 13,
      theme: THEME,
      scrollback: 1000,
      convertEol: this._convertEol,
      cursorBlink: true,
    });
    this.fitter = new FitAddon();
    term.loadAddon(this.fitter);
    term.loadAddon(new WebLinksAddon());
    term.open(this);
    term.textarea?.setAttribute('aria-label', this.getAttribute('aria-label') || 'Terminal');
    if (this.hasAttribute('aria-describedby')) term.textarea?.setAttribute('aria-describedby', this.getAttribute('aria-describedby'));
    term.attachCustomKeyEventHandler((e) => this.key(e));
    term.onData((s) => this.onData?.(s));
    // Mouse reports in X10 mode: bytes as a string of code units < 256.
    term.onBinary((s) => this.onData?.(s));
    term.onResize(({ cols, rows }) => this.onResize?.(cols, rows));
    term.onBell(() => {
      this.classList.add('term-bell');
      clearTimeout(this.bellTimer);
      this.bellTimer = setTimeout(() => this.classList.remove('term-bell'), 150);
    });
    this.xterm = term;
    for (const d of this.pending.splice(0)) term.write(d);
    this.observer = new ResizeObserver(() => this.fit());
    this.observer.observe(this);
    this.fit();
    if (this.wantFocus) term.focus();
  }

  /** key keeps the browser's own keys: Shift+Tab leaves, Ctrl+Shift+C copies, Ctrl+V pastes. */
  key(e) {
    if (e.key === 'Tab' && e.shiftKey) return false;
    if (e.type === 'keydown' && e.ctrlKey && e.shiftKey && (e.key === 'C' || e.key === 'c')) {
      if (this.xterm.hasSelection()) navigator.clipboard?.writeText(this.xterm.getSelection()).catch(() => {});
      e.preventDefault();
      return false;
    }
    if (e.ctrlKey && !e.altKey && (e.key === 'v' || e.key === 'V')) return false;
    return true;
  }

  /** fit sizes the grid to the element; xterm.js reports the change. */
  fit() {
    if (!this.xterm || !this.clientWidth || !this.clientHeight) return;
    this.fitter.fit();
  }

  get cols() { return this.xterm?.cols ?? 80; }

  get rows() { return this.xterm?.rows ?? 24; }

  /** convertEol: LF also returns the carriage, for output without a TTY. */
  get convertEol() { return this._convertEol; }

  set convertEol(v) {
    this._convertEol = !!v;
    if (this.xterm) this.xterm.options.convertEol = this._convertEol;
  }

  /** write feeds output of the program (bytes as UTF-8, or a string). */
  write(data) {
    if (this.xterm) this.xterm.write(data);
    else this.pending.push(typeof data === 'string' ? data : data.slice());
  }

  /** notice writes a line of its own in grey (session messages). */
  notice(text) {
    const line = `\x1b[0;90m${text}\x1b[0m\r\n`;
    if (!this.xterm) { this.pending.push(`\r\n${line}`); return; }
    // After what is still queued: then the cursor's column is known.
    this.xterm.write('', () => this.xterm.write((this.xterm.buffer.active.cursorX > 0 ? '\r\n' : '') + line));
  }

  reset() {
    this.pending = [];
    this.xterm?.reset();
  }

  focus() {
    if (this.xterm) this.xterm.focus();
    else this.wantFocus = true;
  }
}

customElements.define('berth-terminal', BerthTerminal);
