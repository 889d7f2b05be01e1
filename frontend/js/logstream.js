// logstream.js: a log followed over a websocket and resumed after any
// disconnect, as the API serves GET …/log upgraded (its contract is the
// doc of serveLogSocket in backend/api/logsocket.go): binary.k8s.io
// (binary messages of log bytes) or base64.binary.k8s.io, an empty first
// message, a Status in a text message before a 4000+code close. The pod
// Logs tab uses it, and any later streamed log of the same shape.
//
// Lines carry their time (timestamps=true). After a disconnect the stream
// asks again from the time S of its last complete line (sinceTime) and
// drops the first lines that repeat, in order, the text of the lines it
// holds stamped S or later: no line lost, none repeated. An unfinished
// line is passed on as it grows, bounded to its tail; the resumed stream
// sends it again, and what comes first supersedes it.
//
//   connecting ─(data)─▶ open ─(closed)─▶ 1000: check() ─ end ─▶ ended
//        │                                 else, or check() says retry:
//        │                                   waiting ─(back-off)─▶ connecting
//        └─(refused)─▶ 4xx (not 429): failed, with the API's words
//
// It retries for as long as it runs, at once when the console's live
// connection comes back (the master is up again).

import { APIError, get, paths, wsURL } from './api.js';
import { onConnectionState } from './watch.js';

const PROTOCOLS = ['binary.k8s.io', 'base64.binary.k8s.io'];
const RETRY_MIN = 250;
const RETRY_MAX = 8000;
// PARTIAL_MAX bounds an unfinished line that never ends: its tail stays.
const PARTIAL_MAX = 16384;
// HELD is how many of the last complete lines are kept to resume from.
const HELD = 1000;
const TS = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) /;

/** tsKey makes RFC 3339 UTC timestamps with trimmed fractions comparable as strings. */
const tsKey = (ts) => {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?/.exec(ts);
  return m ? `${m[1]}.${(m[2] || '').padEnd(9, '0')}` : '';
};

function parseLine(raw) {
  const m = TS.exec(raw);
  return m ? { ts: m[1], key: tsKey(m[1]), text: raw.slice(m[0].length) } : { ts: '', key: '', text: raw };
}

/** tail keeps the end of an unfinished line, from a carriage return where one is near. */
function tail(text) {
  if (text.length <= PARTIAL_MAX) return text;
  const cut = text.length - PARTIAL_MAX;
  const cr = text.indexOf('\r', cut);
  return text.slice(cr >= 0 && cr < cut + PARTIAL_MAX / 2 ? cr : cut);
}

/**
 * publicMessage is what a person may read of a failure: the API's words
 * for what they asked wrong, a plain sentence for the server's own
 * trouble, and never an address.
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
   *   query      parameters besides follow/timestamps/since (container …)
   *   tailLines  history to start with
   *   onData(lines, partial)  complete lines [{ts, text}] and the unfinished
   *              line {ts, text} or null, which supersedes the one before
   *   onState({state, since, retryAt, message})  connecting | open |
   *              waiting | ended | failed; since: when the stream went down
   *   check()    after the log ended (1000): resolves 'retry' or 'end'; a
   *              rejection means retry
   */
  constructor(path, opts) {
    this.path = path;
    this.opts = opts;
    this.failures = 0;
    this.held = [];       // the last complete lines, {key, ts, text}
    this.partial = null;  // the unfinished line passed on
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
    this.opts.onState?.({ state, since: this.since, transport: 'websocket', ...extra });
  }

  close() {
    clearTimeout(this.idle);
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1000);
    else ws.close(1000);
  }

  connect() {
    this.close();
    this.setState('connecting');
    const q = new URLSearchParams({ ...this.opts.query, follow: 'true', timestamps: 'true' });
    // Resuming from S, the time of the last complete line: the stream
    // repeats first the lines held stamped S or later.
    const last = this.held[this.held.length - 1];
    this.repeat = last ? this.held.filter((l) => l.key >= last.key).map((l) => l.text) : [];
    this.resumeKey = last?.key || '';
    if (last) q.set('sinceTime', last.ts);
    else if (this.opts.tailLines !== undefined) q.set('tailLines', String(this.opts.tailLines));
    this.rest = '';
    this.got = this.opened = this.welcomed = false;
    this.openedAt = Infinity;
    this.status = null;
    this.decoder = new TextDecoder();
    const ws = new WebSocket(wsURL(`${this.path}?${q}`), PROTOCOLS);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onmessage = (ev) => {
      let data = ev.data;
      if (typeof data === 'string') {
        // A Status says why the socket is about to close.
        if (ws.protocol !== 'base64.binary.k8s.io' || data[0] === '{') {
          try { this.status = JSON.parse(data); } catch { /* not a Status */ }
          return;
        }
        data = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      }
      if (!this.welcomed) {
        // The empty first message: the server took the request. A log
        // resumed shows it follows with its first lines; a new one may be
        // quiet, and is taken as followed after a moment without refusal.
        this.welcomed = true;
        if (!last) this.idle = setTimeout(() => { if (this.ws === ws) this.open(); }, 1000);
      }
      if (!data.byteLength) return;
      if (!this.opened) this.open();
      this.feed(this.decoder.decode(data, { stream: true }));
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearTimeout(this.idle);
      this.feed(this.decoder.decode());
      this.closed(ev.code);
    };
  }

  open() {
    clearTimeout(this.idle);
    this.opened = true;
    this.since = null;
    this.openedAt = Date.now();
    this.setState('open');
  }

  /** closed decides what follows a closed socket, by its close code. */
  async closed(code) {
    this.since ||= new Date();
    // A stream that brought new lines or lasted a while was healthy: retry at once.
    this.failures = this.got || Date.now() - this.openedAt > 5000 ? 0 : this.failures + 1;
    const st = this.status;
    let message = st ? publicMessage({ code: st.code || code - 4000, message: st.message }) : 'The connection to the log closed.';
    let after = 0;
    if (code === 4001) {
      // The session ended: asking who we are brings up sign-in.
      this.setState('failed', { message: 'Your session ended.', code: 401 });
      get(paths.whoami()).catch(() => {});
      return;
    }
    if (code >= 4400 && code < 4500 && code !== 4429) {
      this.setState('failed', { message, code: code - 4000 });
      return;
    }
    if (code === 4429) after = (st?.details?.retryAfterSeconds || 1) * 1000;
    if (code === 1000) {
      let verdict = 'retry';
      try { verdict = await this.opts.check?.() ?? 'retry'; } catch (err) { if (err instanceof APIError) message = publicMessage(err); }
      if (this.stopped) return;
      if (verdict === 'end') {
        if (this.partial) this.emit([this.partial], null);
        this.setState('ended');
        return;
      }
    } else if (!this.welcomed) {
      // Refused before the upgrade (the page is told nothing): ask plainly
      // for none of the log to learn why.
      try {
        await get(this.path, { query: { ...this.opts.query, tailLines: '0' }, accept: 'text/plain' });
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof APIError && err.code >= 400 && err.code < 500 && err.code !== 429 && err.code !== 408) {
          this.setState('failed', { message: publicMessage(err), code: err.code });
          return;
        }
        message = publicMessage(err);
      }
    }
    if (this.stopped) return;
    const backoff = this.failures ? Math.min(RETRY_MIN * 2 ** (this.failures - 1), RETRY_MAX) * (0.8 + Math.random() * 0.4) : 0;
    const delay = Math.max(after, backoff);
    this.setState('waiting', { retryAt: Date.now() + delay, message });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  feed(text) {
    if (!text) return;
    const lines = [];
    let s = this.rest + text;
    let start = 0;
    for (let nl = s.indexOf('\n'); nl >= 0; nl = s.indexOf('\n', start)) {
      const line = parseLine(s.slice(start, nl));
      start = nl + 1;
      // Resuming: a server that reads sinceTime coarsely sends older lines.
      if (this.resumeKey && line.key && line.key < this.resumeKey) continue;
      this.resumeKey = '';
      // Resuming: drop the lines we hold, as the stream repeats them.
      if (this.repeat.length && line.text === this.repeat[0]) this.repeat.shift();
      else {
        this.repeat = [];
        lines.push(line);
      }
    }
    s = s.slice(start);
    if (s.length > PARTIAL_MAX + 64) {
      const p = parseLine(s);
      s = (p.ts ? `${p.ts} ` : '') + tail(p.text);
    }
    this.rest = s;
    // The rest is the unfinished line, unless it may still be a time
    // arriving, or a line held that the stream is repeating.
    let partial = lines.length ? null : this.partial;
    if (s && !this.repeat.length && (TS.test(s) || s.length > 40 || !/^[\d:.TZ+-]*$/.test(s))) partial = parseLine(s);
    else if (!s) partial = null;
    if (lines.length || partial !== this.partial) this.emit(lines, partial);
  }

  emit(lines, partial) {
    for (const l of lines) if (l.key) this.held.push(l);
    if (this.held.length > HELD * 2) this.held.splice(0, this.held.length - HELD);
    this.partial = partial;
    this.got = true;
    this.opts.onData(lines, partial && { ts: partial.ts, text: partial.text });
  }
}
