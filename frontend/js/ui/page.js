// page.js: the base of every page element. render() builds the page;
// a failure becomes the error view; watches and timers stop when the
// page leaves the document.
import { errorView } from './errorview.js';
import { liveList } from '../watch.js';

export class Page extends HTMLElement {
  connectedCallback() {
    if (this._running) return;
    this._running = true;
    this._stops = [];
    this.classList.add('page');
    this.load();
  }

  disconnectedCallback() {
    this._running = false;
    for (const stop of this._stops.splice(0)) {
      try { stop(); } catch { /* already stopped */ }
    }
  }

  async load() {
    for (const stop of this._stops.splice(0)) stop();
    this.replaceChildren();
    this.setAttribute('aria-busy', 'true');
    try {
      await this.render();
    } catch (err) {
      if (err?.name === 'AbortError' || !this.isConnected) return;
      this.replaceChildren(errorView(err, { retry: () => this.load() }));
    } finally {
      this.removeAttribute('aria-busy');
    }
  }

  /** onStop registers fn to run when the page goes away. */
  onStop(fn) {
    if (this._running) this._stops.push(fn);
    else fn();
  }

  /** live keeps a list at path current (see watch.js liveList). */
  live(path, opts) {
    if (!this._running) return () => {};
    const stop = liveList(path, opts);
    this._stops.push(stop);
    return stop;
  }

  every(ms, fn) {
    const t = setInterval(fn, ms);
    this.onStop(() => clearInterval(t));
  }

  /** title sets the document title. */
  title(...parts) {
    document.title = [...parts.filter(Boolean), 'Berth'].join(' · ');
  }

  async render() {}
}

/** define registers a page element once. */
export function define(tag, cls) {
  if (!customElements.get(tag)) customElements.define(tag, cls);
}
