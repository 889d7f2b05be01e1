// shell.js: <berth-pod-terminal>, the Terminal tab: an exec or attach
// session with a TTY over the Kubernetes channel protocol (v5/v4
// channel.k8s.io), shown in a <berth-terminal> (xterm.js).
//
// Every binary message starts with a channel byte: 0 stdin (sent), 1
// stdout, 2 stderr, 3 the session's Status (JSON), 4 resize (sent, JSON
// {"Width","Height"}), 255 close (v5: [255, 0] closes stdin).

import { get, paths, APIError } from '../api.js';
import { h, labelled, containerStatusOf, errorText, wsURL } from './util.js';
import './terminal.js';

const encoder = new TextEncoder();

function frame(channel, bytes) {
  const out = new Uint8Array(bytes.length + 1);
  out[0] = channel;
  out.set(bytes, 1);
  return out;
}

/** exitOf reads the exit code (or message) from a session's Status. */
export function exitOf(status) {
  if (!status || status.status === 'Success') return { code: 0 };
  const cause = (status.details?.causes || []).find((c) => (c.reason || c.type) === 'ExitCode');
  if (cause) return { code: parseInt(cause.message, 10) };
  return { message: status.message || 'the session failed' };
}

class PodTerminal extends HTMLElement {
  connectedCallback() {
    if (this.built) return;
    this.built = true;
    this.className = 'pod-terminal';
    this.containerSel = h('select', { 'aria-label': 'Container', onchange: () => this.connect() });
    this.modeExec = h('input', { type: 'radio', name: `term-mode-${Math.random().toString(36).slice(2)}`, value: 'exec', checked: true, onchange: () => this.syncMode() });
    this.modeAttach = h('input', { type: 'radio', name: this.modeExec.name, value: 'attach', onchange: () => this.syncMode() });
    this.command = h('input', {
      type: 'text', value: 'sh', class: 'pod-input term-command', 'aria-label': 'Command to run', spellcheck: 'false', autocomplete: 'off',
      onkeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); this.connect(); } },
    });
    this.connectBtn = h('button', { type: 'button', class: 'btn btn-primary', onclick: () => this.connect() }, 'Connect');
    this.disconnectBtn = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => this.disconnect('— disconnected —') }, 'Disconnect');
    this.status = h('span', { class: 'term-status', role: 'status' });
    this.message = h('div', { class: 'banner banner-bad', role: 'alert', hidden: true });
    this.term = h('berth-terminal', { 'aria-label': 'Terminal of the container', 'aria-describedby': 'term-hint' });
    this.term.onData = (s) => this.send(0, encoder.encode(s));
    this.term.onResize = (cols, rows) => this.sendResize(cols, rows);
    this.append(
      h('div', { class: 'pod-toolbar' },
        labelled('Container', this.containerSel),
        h('fieldset', { class: 'term-mode' },
          h('legend', { class: 'sr-only', text: 'Session' }),
          h('label', { class: 'pod-check' }, this.modeExec, 'Exec command'), this.command,
          h('label', { class: 'pod-check' }, this.modeAttach, 'Attach')),
        h('span', { class: 'pod-toolbar-end' }, this.status, this.disconnectBtn, this.connectBtn)),
      this.message,
      this.term,
      h('p', { class: 'term-hint', id: 'term-hint', text: 'Click the terminal or focus it with Tab to type. Shift+Tab leaves it; Ctrl+Shift+C copies the selection, Ctrl+V pastes; links open with a click.' }),
    );
    this.fillContainers();
  }

  disconnectedCallback() { this.disconnect(); }

  set pod(pod) {
    const old = this._pod;
    this._pod = pod;
    if (!this.built) return;
    const names = (p) => JSON.stringify(p?.spec?.containers?.map((c) => c.name));
    if (!old || names(old) !== names(pod)) this.fillContainers();
  }

  set canEdit(v) {
    this._canEdit = v;
    if (this.built && v === false && !this.ws) this.showMessage('You need the edit role to open a terminal.');
  }

  get container() { return this.containerSel.value; }

  fillContainers() {
    const names = (this._pod?.spec?.containers || []).map((c) => c.name);
    const cur = this.containerSel.value;
    this.containerSel.textContent = '';
    for (const n of names) this.containerSel.append(h('option', { value: n, text: n }));
    if (names.includes(cur)) this.containerSel.value = cur;
    this.containerSel.disabled = names.length < 2;
  }

  syncMode() { this.command.disabled = this.modeAttach.checked; }

  /** start connects the first time the tab is shown. */
  start() {
    if (this.started) { this.term.focus(); return; }
    this.started = true;
    if (this._canEdit === false) { this.showMessage('You need the edit role to open a terminal.'); return; }
    this.connect();
  }

  showMessage(text) {
    this.message.textContent = text;
    this.message.hidden = !text;
  }

  setStatus(text, state) {
    this.status.textContent = text;
    this.status.dataset.state = state;
    const live = state === 'open' || state === 'connecting';
    this.connectBtn.textContent = live ? 'Reconnect' : (this.everConnected ? 'Reconnect' : 'Connect');
    this.disconnectBtn.hidden = !live;
  }

  url() {
    const attach = this.modeAttach.checked;
    const spec = (this._pod?.spec?.containers || []).find((c) => c.name === this.container) || {};
    const q = new URLSearchParams({ container: this.container });
    if (attach) {
      // Attach takes the container's own streams: a TTY only if it has one.
      q.set('stdin', String(!!spec.stdin));
      q.set('stdout', 'true');
      q.set('stderr', String(!spec.tty));
      q.set('tty', String(!!spec.tty));
    } else {
      for (const arg of (this.command.value.trim() || 'sh').split(/\s+/)) q.append('command', arg);
      q.set('stdin', 'true');
      q.set('stdout', 'true');
      q.set('stderr', 'true');
      q.set('tty', 'true');
    }
    return { path: `${paths.pod(this.getAttribute('namespace'), this.getAttribute('name'))}/${attach ? 'attach' : 'exec'}?${q}`, tty: attach ? !!spec.tty : true, attach };
  }

  connect() {
    if (!this.container) return;
    this.disconnect();
    this.showMessage('');
    const { path, tty, attach } = this.url();
    const cs = containerStatusOf(this._pod, this.container);
    if (this._pod && !cs?.state?.running) {
      this.showMessage(`The container “${this.container}” is not running, so there is nothing to ${attach ? 'attach to' : 'run a command in'}. Start the pod, then connect.`);
      this.setStatus('Not connected', 'closed');
      return;
    }
    this.term.convertEol = !tty;
    this.term.reset();
    const ws = new WebSocket(wsURL(path), ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.exit = null;
    this.opened = false;
    this.setStatus('Connecting…', 'connecting');
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.opened = true;
      this.everConnected = true;
      this.setStatus(attach ? 'Attached' : 'Connected', 'open');
      this.sendResize(this.term.cols, this.term.rows);
      if (!attach || tty) this.term.focus();
      if (attach && tty) this.send(0, encoder.encode('\x0c')); // redraw: Ctrl-L
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws || typeof ev.data === 'string') return;
      const bytes = new Uint8Array(ev.data);
      if (bytes.length < 2) return; // the initial empty message
      const ch = bytes[0];
      if (ch === 1 || ch === 2) this.term.write(bytes.subarray(1));
      else if (ch === 3) {
        try { this.exit = exitOf(JSON.parse(new TextDecoder().decode(bytes.subarray(1)))); } catch { this.exit = { message: 'the session ended' }; }
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.opened) { this.explainFailure(path); return; }
      this.ended(ev);
    };
  }

  ended(ev) {
    let text;
    if (this.exit?.code !== undefined && !Number.isNaN(this.exit.code)) text = `— session ended (exit code ${this.exit.code}) —`;
    else if (this.exit?.message) text = `— session ended: ${this.exit.message} —`;
    else text = `— session ended${ev.reason ? `: ${ev.reason}` : ''} —`;
    this.term.notice(text);
    this.setStatus('Session ended', 'closed');
    this.connectBtn.focus({ preventScroll: true });
  }

  /** explainFailure asks the API why a websocket was refused. */
  async explainFailure(path) {
    let msg = 'The terminal could not connect.';
    try {
      await get(path);
    } catch (err) {
      if (err instanceof APIError) {
        if (err.code === 403) msg = 'You need the edit role to open a terminal.';
        else if (err.code !== 400 || !/upgrade|websocket/i.test(errorText(err))) msg = `The terminal could not connect: ${errorText(err)}`;
      }
    }
    if (this.ws) return;
    this.showMessage(msg);
    this.setStatus('Not connected', 'closed');
  }

  disconnect(noticeText) {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    try {
      if (ws.readyState === WebSocket.OPEN && ws.protocol === 'v5.channel.k8s.io') ws.send(new Uint8Array([255, 0]));
      if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1000);
      else ws.close(1000);
    } catch { /* closed already */ }
    if (noticeText) {
      this.term.notice(noticeText);
      this.setStatus('Disconnected', 'closed');
    }
  }

  send(channel, bytes) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(frame(channel, bytes));
  }

  sendResize(cols, rows) {
    this.send(4, encoder.encode(JSON.stringify({ Width: cols, Height: rows })));
  }
}

customElements.define('berth-pod-terminal', PodTerminal);

// Keep the names used by tests stable.
export { PodTerminal };
