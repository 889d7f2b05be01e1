// watch.js: live collections over one websocket per tab (/console/ws/watch).
//
// Protocol (JSON text frames):
//   client → server  {"op":"watch","id":"w1","path":"/api/v1/namespaces/demo/pods",
//                     "query":{"labelSelector":"app=web"},"resourceVersion":"123"}
//                    {"op":"unwatch","id":"w1"}
//   server → client  {"id":"w1","type":"ADDED"|"MODIFIED"|"DELETED","object":{...}}
//                    {"id":"w1","type":"ERROR","object":<Status>}   (410 Gone: start over)
//                    {"id":"w1","type":"CLOSED"}  the API stream ended; re-watch from the last version
//   close code 4001  the session ended (logout, password change, revoked): no reconnect
// Watches ask for bookmarks: after the initial objects the server sends a
// BOOKMARK at the list's version, which is where a resume starts.
// Without a resourceVersion the server first sends the current objects as
// ADDED events. After a reconnect each watch resumes from the last version
// it saw, so nothing is missed and nothing is seen twice.
// A watch the API could not serve for now (5xx, 429) is asked again with
// back-off. The connection is live ('open') only while the socket is open
// and no watch waits so; from the moment it stops being live, `since` says
// when, and pages show that their state is unknown since then.

import { get } from './api.js';

const RETRY_MIN = 500;
// SESSION_ENDED is the close code of a socket whose session ended.
const SESSION_ENDED = 4001;
const RETRY_MAX = 15000;

class Connection {
  constructor() {
    this.watches = new Map(); // id → Watch
    this.seq = 0;
    this.retry = RETRY_MIN;
    this.ws = null;
    this.listeners = new Set();
    this.sessionListeners = new Set();
    this.failing = new Set(); // watches waiting to be asked again
    this.raw = 'closed';      // the socket's state
    this.state = 'closed';
    this.since = null;        // when the connection stopped being live
  }

  onState(fn) { this.listeners.add(fn); fn(this.state, this.since); return () => this.listeners.delete(fn); }
  setState(s) {
    this.raw = s;
    if (s === 'open' && this.failing.size) s = 'reconnecting';
    if (s === 'open' || s === 'closed') this.since = null;
    else if (s === 'reconnecting') this.since ||= new Date();
    if (s === this.state && s !== 'reconnecting') return;
    this.state = s;
    this.listeners.forEach((fn) => fn(s, this.since));
  }

  ensureOpen() {
    if (this.ws || this.watches.size === 0) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/console/ws/watch`);
    this.ws = ws;
    this.setState('connecting');
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.retry = RETRY_MIN;
      for (const w of this.failing) clearTimeout(w.timer);
      this.failing.clear();
      this.setState('open');
      for (const w of this.watches.values()) this.send(w.request());
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      this.watches.get(msg.id)?.handle(msg);
    };
    ws.onclose = (ev) => {
      // A socket closed on purpose (no watches left) is not this.ws any more.
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === SESSION_ENDED) {
        // The session was revoked (sign-out, password change): reconnecting
        // cannot help. The next page that watches opens a new socket.
        this.setState('closed');
        this.sessionListeners.forEach((fn) => fn());
        return;
      }
      if (this.watches.size === 0) { this.setState('closed'); return; }
      this.setState('reconnecting');
      const delay = this.retry * (0.8 + Math.random() * 0.4);
      this.retry = Math.min(this.retry * 2, RETRY_MAX);
      setTimeout(() => this.ensureOpen(), delay);
    };
  }

  send(msg) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  add(w) {
    w.id = `w${++this.seq}`;
    this.watches.set(w.id, w);
    if (this.ws?.readyState === WebSocket.OPEN) this.send(w.request());
    else this.ensureOpen();
  }

  remove(w) {
    clearTimeout(w.timer);
    if (this.failing.delete(w)) this.setState(this.raw);
    if (!this.watches.delete(w.id)) return;
    this.send({ op: 'unwatch', id: w.id });
    if (this.watches.size === 0 && this.ws) {
      // Forget the socket at once: a page that comes next opens a fresh one
      // instead of waiting for this one to close and "reconnecting".
      const ws = this.ws;
      this.ws = null;
      // Closing a socket still connecting logs an error: close it once open.
      if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1000, 'no watches');
      else ws.close(1000, 'no watches');
      this.setState('closed');
    }
  }
}

const connection = new Connection();

/**
 * onConnectionState calls fn(state, since) now and on every change: state
 * is 'open' (live), 'connecting', 'reconnecting' or 'closed' (no watches);
 * since is when the connection stopped being live, or null.
 */
export const onConnectionState = (fn) => connection.onState(fn);

/** isLive reports whether what the watches show is live (or freshly read, still connecting). */
export const isLive = () => !connection.since;

/** onSessionEnded calls fn when the server closes the socket because the session ended. */
export function onSessionEnded(fn) {
  connection.sessionListeners.add(fn);
  return () => connection.sessionListeners.delete(fn);
}

class Watch {
  constructor(path, query, onChange, onError) {
    this.path = path;
    this.query = query || {};
    this.onChange = onChange;
    this.onError = onError;
    this.items = new Map(); // namespace/name → object
    this.resourceVersion = '';
    this.retry = RETRY_MIN;
  }

  request() {
    return {
      op: 'watch', id: this.id, path: this.path,
      query: { ...this.query, allowWatchBookmarks: 'true' },
      resourceVersion: this.resourceVersion,
    };
  }

  key(obj) { return `${obj.metadata?.namespace || ''}/${obj.metadata?.name}`; }

  handle(msg) {
    switch (msg.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.retry = RETRY_MIN;
        this.items.set(this.key(msg.object), msg.object);
        break;
      case 'DELETED':
        this.items.delete(this.key(msg.object));
        break;
      case 'BOOKMARK':
        // The end of the initial objects, at the list's version: resuming
        // from here after a reconnect repeats nothing.
        if (msg.object?.metadata?.resourceVersion) this.resourceVersion = msg.object.metadata.resourceVersion;
        return;
      case 'CLOSED':
        connection.send(this.request());
        return;
      case 'ERROR':
        if (msg.object?.code === 410) {
          // The version we held was compacted away: start from a fresh list.
          this.resourceVersion = '';
          this.items.clear();
          connection.send(this.request());
        } else if (!(msg.object?.code >= 500 || msg.object?.code === 429)) {
          this.onError?.(msg.object);
        } else {
          // The API cannot serve it for now (the master starting, a limit):
          // not live until it is asked again.
          connection.failing.add(this);
          connection.setState(connection.raw);
          clearTimeout(this.timer);
          this.timer = setTimeout(() => {
            connection.failing.delete(this);
            connection.send(this.request());
            connection.setState(connection.raw);
          }, this.retry * (0.8 + Math.random() * 0.4));
          this.retry = Math.min(this.retry * 2, RETRY_MAX);
        }
        return;
      default:
        return;
    }
    const rv = msg.object?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    this.onChange([...this.items.values()], msg);
  }
}

/**
 * watch keeps a live list of the objects at path (a list path of the API)
 * and calls onChange(items, event) on every change. It returns a function
 * that stops the watch.
 */
export function watch(path, { query, onChange, onError } = {}) {
  const w = new Watch(path, query, onChange, onError);
  connection.add(w);
  return () => connection.remove(w);
}

/**
 * liveList is watch that starts from a plain list request: the first
 * onChange(items, null) comes from GET path (so an empty list or an error
 * such as 403 shows at once, as an APIError to onError), and the watch
 * then resumes from that list's resourceVersion.
 */
export function liveList(path, { query, onChange, onError } = {}) {
  const w = new Watch(path, query, onChange, onError);
  let stopped = false;
  get(path, { query }).then((list) => {
    if (stopped) return;
    for (const obj of list?.items || []) w.items.set(w.key(obj), obj);
    w.resourceVersion = list?.metadata?.resourceVersion || '';
    onChange([...w.items.values()], null);
    connection.add(w);
  }, (err) => {
    if (!stopped) onError?.(err);
  });
  return () => {
    stopped = true;
    connection.remove(w);
  };
}
