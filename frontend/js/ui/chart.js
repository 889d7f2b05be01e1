// chart.js: charts by uPlot (MIT), vendored in /static/vendor, loaded by
// the first page that charts.

let loaded;

/** loadUPlot resolves to the uPlot constructor, loading it once. */
export function loadUPlot() {
  loaded ||= new Promise((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = '/static/vendor/uPlot.min.css';
    document.head.append(css);
    const s = document.createElement('script');
    s.src = '/static/vendor/uPlot.iife.min.js';
    s.onload = () => resolve(window.uPlot);
    s.onerror = () => { loaded = null; reject(new Error('cannot load the chart library')); };
    document.head.append(s);
  });
  return loaded;
}

const PALETTE = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#dc2626', '#ca8a04', '#db2777'];

/**
 * stackedBars draws one bar per x, stacked by group: xs are Unix seconds,
 * groups [{ label, values }] (one value per x). Bars of the later groups
 * sit on the earlier ones.
 */
export async function stackedBars(el, xs, groups, { unit = '', width = 720, height = 280 } = {}) {
  const uPlot = await loadUPlot();
  // Cumulative sums, drawn tallest first so that each group's part shows.
  const cum = [];
  let run = xs.map(() => 0);
  for (const g of groups) {
    run = run.map((v, i) => v + (g.values[i] || 0));
    cum.push(run);
  }
  const series = [{}];
  const data = [xs];
  for (let i = groups.length - 1; i >= 0; i--) {
    const color = PALETTE[i % PALETTE.length];
    series.push({
      label: groups[i].label, fill: color, stroke: color, width: 0,
      paths: uPlot.paths.bars({ size: [0.7, 64] }),
      value: (u, v, si, idx) => idx == null ? '' : `${fmt(groups[i].values[idx] || 0)} ${unit}`,
    });
    data.push(cum[i]);
  }
  el.replaceChildren();
  return new uPlot({
    width, height, series, cursor: { points: { show: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [{}, { label: unit, size: 70 }],
  }, data, el);
}

/** lines draws series over time: xs Unix seconds, lines [{ label, values }], over span [from, to] (default xs'). */
export async function lines(el, xs, series, { unit = '', width = 720, height = 220, format = fmt, span } = {}) {
  const uPlot = await loadUPlot();
  el.replaceChildren();
  return new uPlot({
    width, height,
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 2, value: (u, v) => v == null ? '' : format(v) }))],
    scales: { x: span ? { range: () => span } : {}, y: { range: (u, min, max) => [0, max > 0 ? max * 1.2 : 1] } },
    axes: [{}, { label: unit, size: 70, values: (u, vals) => vals.map(format) }],
  }, [xs, ...series.map((s) => s.values)], el);
}

function fmt(v) {
  if (v === 0) return '0';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}
