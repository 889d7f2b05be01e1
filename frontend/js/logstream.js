// logstream.js: a log followed over a websocket, resumed after any
// disconnect. The API's GET …/log upgrades to a websocket with the
// subprotocols kube-apiserver serves for it: binary.k8s.io (binary frames
// of the log's bytes) or base64.binary.k8s.io (the bytes in base64 text
// frames). The pod Logs tab uses it; any later streamed log (host image
// builds) has an endpoint of the same shape and uses it too.
//
// Lines carry the server's timestamps (timestamps=true): "TS text\n".
// After a disconnect the stream asks again from the timestamp of the last
// line it has (sinceTime) and drops the boundary lines it already has
// (earlier than that timestamp, or at it with the same text): no line is
// lost, none repeated. An unfinished line (a progress bar, a prompt) is
// passed on as it grows, bounded to its tail, and continued, not repeated,
// when the stream resumes.
//
//   connecting ─▶ open ─(closed)─▶ check() ─ retry ─▶ waiting ─(back-off)─▶ connecting
//        │ (no upgrade)              └─ end ─▶ ended
//        └─▶ probe: plain GET → 4xx ─▶ failed (the API's message)
//
// It retries for as long as it runs, at once when the console's live
// connection comes back (the master is up again).

import { APIError, get, wsURL } from './api.js';
import { onConnectionState } from './watch.js';

const PROTOCOLS = ['binary.k8s.io', 'base64.binary.k8s.io'];
const RETRY_MIN = 250;
const RETRY_MAX = 8000;
// PARTIAL_MAX bounds an unfinished line that never ends: its tail stays.
export const PARTIAL_MAX = 16384;
const TS = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) /;

/** tsKey makes RFC 3339 UTC timestamps with trimmed fractions comparable as strings. */
export function tsKey(ts) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?/.exec(ts);
  return m ? `${m[1]}.${(m[2] || '').padEnd(9, '0')}` : '';
}

/** parseLine splits "TS text" into {ts, key, text}. */
function parseLine(raw) {
  const m = TS.exec(raw);
  if (!m) return { ts: '', key: '', text: raw };
  return { ts: m[1], key: tsKey(m[1]), text: raw.slice(m[0].length) };
}

/** tail keeps the end of an unfinished line, from a carriage return where one is near. */
export function tail(text, max = PARTIAL_MAX) {
  if (text.length <= max) return text;
  const cut = text.length - max;
  const cr = text.indexOf('\r', cut);
  return cr >= 0 && cr < cut + max / 2 ? text.slice(cr) : text.slice(cut);
}

/**
 * publicMessage is what a person may read of a failed request: the API's
 * words for what they asked wrong, a plain sentence for the server's own
 * trouble, and never an internal address.
 */
export function publicMessage(err) {
  const code = err?.code ?? 0;
  if (code === 0) return 'Cannot reach Berth.';
  if (code === 429) return 'Too many open streams; waiting for one to end.';
  if (code >= 500) return code === 503 ? 'The pod’s node does not answer yet.' : 'The server could not serve the log.';
  return String(err.message || `HTTP ${code}`)
    .replace(/\b[a-z]+:\/\/\S+/gi, '(address)')
    .replace(/\[?[0-9a-f]*:[0-9a-f:]+\]?:\d+|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/gi, '(address)');
}

export class LogStream {
  /**
   * path is the log's API path (…/pods/NAME/log); opts:
   *   query    parameters besides follow/timestamps/since (container …)
   *   tailLines  history to start with
   *   onData(lines, partial)  complete lines [{ts, text}] and the unfinished
   *            line {ts, text} or null; each call supersedes the previous
   *            partial (when it was completed, its full form is lines[0])
   *   onState({state, since, retryAt, message})  connecting | open |
   *            waiting | ended | failed; since: when the stream went down
   *   check()  after the stream closed: resolves 'retry' or 'end' (the log
   *            is over); a rejection means retry
   */
  constructor(path, opts) {
    this.path = path;
    this.opts = opts;
    this.ws = null;
    this.failures = 0;
    this.plain = 0;             // upgrades refused in a row by a server that answers the log
    this.lastTs = '';
    this.lastKey = '';
    this.lastTexts = new Map(); // text → count, of the complete lines at lastKey
    this.partial = null;        // the unfinished line passed on, {ts, key, text}
    this.boundary = null;       // while resuming: {key, texts}
    this.carry = null;          // while resuming: the unfinished line from before
    this.since = null;
  }

  start() {
    this.stopped = false;
    this.unlisten?.();
    this.unlisten = onConnectionState((s) => { if (s === 'open' && this.state === 'waiting') this.retryNow(); });
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.unlisten?.();
    clearTimeout(this.timer);
    this.close();
  }

  retryNow() {
    if (this.stopped || this.state !== 'waiting') return;
    clearTimeout(this.timer);
    this.connect();
  }

  setState(state, extra = {}) {
    this.state = state;
    this.opts.onState?.({ state, since: this.since, transport: this.http ? 'http' : 'websocket', ...extra });
  }

  close() {
    this.ctrl?.abort();
    this.ctrl = null;
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1000);
    else ws.close(1000);
  }

  url() {
    const q = new URLSearchParams({ ...this.opts.query, follow: 'true', timestamps: 'true' });
    const since = this.partial?.ts || this.lastTs;
    if (since) q.set('sinceTime', since);
    else if (this.opts.tailLines !== undefined) q.set('tailLines', String(this.opts.tailLines));
    return `${this.path}?${q}`;
  }

  connect() {
    this.close();
    this.setState('connecting');
    // Resuming: what came before the boundary was seen already.
    if (this.partial || this.lastKey) {
      const key = this.partial?.key || this.lastKey;
      this.boundary = { key, texts: new Map(key === this.lastKey ? this.lastTexts : []) };
      this.carry = this.partial;
    }
    this.rest = '';
    this.got = false;
    this.opened = false;
    this.openedAt = Infinity;
    this.decoder = new TextDecoder();
    if (this.http) { this.fetch(); return; }
    const ws = new WebSocket(wsURL(this.url()), PROTOCOLS);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => this.open();
    ws.onmessage = (ev) => {
      let text;
      if (typeof ev.data === 'string') {
        const bin = atob(ev.data);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        text = this.decoder.decode(bytes, { stream: true });
      } else text = this.decoder.decode(ev.data, { stream: true });
      this.feed(text);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.feed(this.decoder.decode());
      this.closed(this.opened);
    };
  }

  open() {
    this.plain = 0;
    this.opened = true;
    this.since = null;
    this.openedAt = Date.now();
    this.setState('open');
  }

  /**
   * fetch follows the log as a plain HTTP stream, for a server that
   * answers the log but does not upgrade it to a websocket.
   */
  async fetch() {
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    try {
      const resp = await fetch(this.url(), { credentials: 'same-origin', signal: ctrl.signal });
      if (!resp.ok) throw new APIError(null, resp.status);
      this.open();
      const reader = resp.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.feed(this.decoder.decode(value, { stream: true }));
      }
    } catch {
      // closed below, as a socket would be
    }
    if (this.ctrl !== ctrl) return;
    this.ctrl = null;
    this.feed(this.decoder.decode());
    this.closed(this.opened);
  }

  /** closed decides what follows a closed socket. */
  async closed(opened) {
    this.since ||= new Date();
    // A stream that brought new lines or lasted a while was healthy: retry at once.
    this.failures = this.got || Date.now() - this.openedAt > 5000 ? 0 : this.failures + 1;
    let verdict = 'retry';
    let message = opened ? 'The connection to the log closed.' : 'Cannot open the log.';
    if (!opened) {
      // A refused upgrade says nothing to the page: ask for the log plainly
      // to learn why (the API's Status), without following it.
      try {
        await get(this.path, { query: { ...this.opts.query, tailLines: '0' }, accept: 'text/plain' });
        // Answered twice running but never upgraded: a server (or proxy)
        // without websockets; follow it as a plain HTTP stream.
        this.http = ++this.plain > 1;
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof APIError && err.code >= 400 && err.code < 500 && err.code !== 429 && err.code !== 408) {
          this.setState('failed', { message: publicMessage(err), code: err.code });
          return;
        }
        message = publicMessage(err);
      }
    }
    try {
      verdict = await this.opts.check?.() ?? 'retry';
    } catch (err) {
      if (err instanceof APIError) message = publicMessage(err);
    }
    if (this.stopped) return;
    if (verdict === 'end') {
      this.endPartial();
      this.setState('ended');
      return;
    }
    const delay = this.failures ? Math.min(RETRY_MIN * 2 ** (this.failures - 1), RETRY_MAX) * (0.8 + Math.random() * 0.4) : 0;
    const retryAt = Date.now() + delay;
    this.setState('waiting', { retryAt, message });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** endPartial passes on the unfinished line as a line of its own, the log being over. */
  endPartial() {
    const p = this.carry || this.partial;
    this.carry = this.partial = null;
    this.boundary = null;
    if (p) this.emit([p], null);
  }

  feed(text) {
    if (!text) return;
    const lines = [];
    let s = this.rest + text;
    let start = 0;
    for (let nl = s.indexOf('\n', start); nl >= 0; nl = s.indexOf('\n', start)) {
      const line = parseLine(s.slice(start, nl));
      start = nl + 1;
      if (this.fresh(line)) lines.push(line);
    }
    s = s.slice(start);
    if (s.length > PARTIAL_MAX + 64) {
      const p = parseLine(s);
      s = (p.ts ? p.ts + ' ' : '') + tail(p.text);
    }
    this.rest = s;
    // The rest is the unfinished line, unless it may still be a timestamp
    // arriving (then what is shown stays, unless lines completed it).
    let partial = lines.length ? null : this.partial;
    if (s && (TS.test(s) || s.length > 40 || !/^[\d:.TZ+-]*$/.test(s))) {
      const p = parseLine(s);
      // During a resume only the continuation of our own unfinished line shows.
      if (!this.boundary || (this.carry && p.key >= this.carry.key)) partial = p;
    } else if (!s) partial = null;
    if (!lines.length && partial === this.partial) return;
    this.emit(lines, partial);
  }

  /**
   * fresh reports whether a complete line is new; it ends a resume at the
   * first new one. The first line not older than an unfinished line shown
   * before the disconnect is that line, continued: it takes its place
   * (the server may time and begin it differently, as it had it then).
   */
  fresh(line) {
    const b = this.boundary;
    if (!b) return true;
    if (line.key && line.key < b.key) return false;
    const n = line.key === b.key ? b.texts.get(line.text) : 0;
    if (n) {
      if (n === 1) b.texts.delete(line.text); else b.texts.set(line.text, n - 1);
      return false;
    }
    this.boundary = this.carry = null;
    return true;
  }

  emit(lines, partial) {
    for (const l of lines) {
      if (!l.key) continue;
      if (l.key !== this.lastKey) {
        this.lastKey = l.key;
        this.lastTexts.clear();
      }
      this.lastTs = l.ts;
      if (this.lastTexts.size < 1000) this.lastTexts.set(l.text, (this.lastTexts.get(l.text) || 0) + 1);
    }
    this.partial = partial;
    this.got = true;
    this.opts.onData(lines, partial && { ts: partial.ts, text: partial.text });
  }
}
