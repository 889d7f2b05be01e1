// graphs.js: <berth-pod-graphs namespace name>: a pod's CPU and memory per
// minute over the last hour, refreshed every 15 s.
import { get } from '../api.js';
import { formatBytes, formatCores } from '../ui/dom.js';
import { lines } from '../ui/chart.js';
import { h } from './util.js';

const REFRESH = 15000;

class PodGraphs extends HTMLElement {
  connectedCallback() {
    this.cpu = h('div', { class: 'pod-graph', 'data-test': 'pod-cpu-graph' });
    this.mem = h('div', { class: 'pod-graph', 'data-test': 'pod-memory-graph' });
    this.note = h('p', { class: 'count-note', 'data-test': 'pod-graphs-note' }, 'Loading…');
    this.replaceChildren(this.note, this.cpu, this.mem);
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH);
  }

  disconnectedCallback() { clearInterval(this.timer); }

  async refresh() {
    const ns = this.getAttribute('namespace');
    const pod = this.getAttribute('name');
    const from = new Date(Date.now() - 3600e3).toISOString().replace(/\.\d+Z$/, 'Z');
    let report;
    try {
      report = await get(`/apis/berth.dev/v1/namespaces/${encodeURIComponent(ns)}/usage`, { query: { groupBy: 'minute', pod, from } });
    } catch (err) {
      this.note.textContent = `No resource figures: ${err.message}`;
      return;
    }
    const rows = report.rows || [];
    if (!rows.length) {
      this.note.textContent = 'No resource figures yet: the node reports them every interval while the pod runs.';
      return;
    }
    this.note.textContent = 'CPU and memory, per minute, over the last hour.';
    const xs = rows.map((r) => Date.parse(r.minute) / 1000);
    // A minute's core-hours over the hours the pod ran in it are its cores
    // then; GiB-hours, GiB (a whole minute when it has no running time).
    const ran = rows.map((r) => r.podHours || 1 / 60);
    const cores = rows.map((r, i) => r.cpuCoreHours / ran[i]);
    const bytes = rows.map((r, i) => r.memoryGiBHours / ran[i] * 2 ** 30);
    const width = Math.max(300, Math.min(720, this.clientWidth || 720));
    const span = [Date.parse(from) / 1000, Date.now() / 1000];
    const milli = (v) => v > 0 && v < 0.01 ? `${+(v * 1e3).toFixed(2)}m` : formatCores(v);
    this.cpuChart?.destroy();
    this.memChart?.destroy();
    this.cpuChart = await lines(this.cpu, xs, [{ label: 'CPU (cores)', values: cores }], { unit: 'cores', width, format: milli, span });
    this.memChart = await lines(this.mem, xs, [{ label: 'Memory', values: bytes }], { unit: 'memory', width, format: formatBytes, span });
  }
}
if (!customElements.get('berth-pod-graphs')) customElements.define('berth-pod-graphs', PodGraphs);
