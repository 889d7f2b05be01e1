// ansi.js: turns one log line with ANSI escape sequences into styled
// segments, as a terminal would show it: SGR colours (16 and 256), bold,
// carriage returns that overwrite the line from its start (progress bars),
// backspaces; every other escape sequence is dropped.

/** color256 is the CSS colour of xterm palette entry n (16–255). */
function color256(n) {
  if (n < 232) {
    n -= 16;
    const v = (x) => (x ? 55 + x * 40 : 0);
    return `rgb(${v(Math.floor(n / 36))},${v(Math.floor(n / 6) % 6)},${v(n % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

/**
 * sgr applies the parameters of one SGR sequence to style {fg, bg, bold,
 * underline, inverse} (colours: null = default, 0–255) and returns it.
 */
function sgr(style, params) {
  const p = params.length ? params : [0];
  for (let i = 0; i < p.length; i++) {
    const n = p[i] || 0;
    if (n === 0) { style.fg = null; style.bg = null; style.bold = false; style.underline = false; style.inverse = false; }
    else if (n === 1) style.bold = true;
    else if (n === 4) style.underline = true;
    else if (n === 7) style.inverse = true;
    else if (n === 22) style.bold = false;
    else if (n === 24) style.underline = false;
    else if (n === 27) style.inverse = false;
    else if (n >= 30 && n <= 37) style.fg = n - 30;
    else if (n >= 90 && n <= 97) style.fg = n - 90 + 8;
    else if (n >= 40 && n <= 47) style.bg = n - 40;
    else if (n >= 100 && n <= 107) style.bg = n - 100 + 8;
    else if (n === 39) style.fg = null;
    else if (n === 49) style.bg = null;
    else if (n === 38 || n === 48) {
      let c = null;
      if (p[i + 1] === 5) { c = (p[i + 2] || 0) & 255; i += 2; }
      else if (p[i + 1] === 2) { c = rgbTo256(p[i + 2] || 0, p[i + 3] || 0, p[i + 4] || 0); i += 4; }
      if (n === 38) style.fg = c; else style.bg = c;
    }
  }
  return style;
}

function rgbTo256(r, g, b) {
  const q = (x) => (x < 48 ? 0 : x < 115 ? 1 : Math.floor((x - 35) / 40));
  return 16 + 36 * q(r) + 6 * q(g) + q(b);
}

/** styleKey is a stable key of a style, to join runs of equal style. */
const styleKey = (s) => `${s.fg}|${s.bg}|${s.bold ? 1 : 0}|${s.underline ? 1 : 0}|${s.inverse ? 1 : 0}`;

/**
 * parseLine returns the visible segments [{text, style}] of a line (without
 * its trailing newline). Style is null for plain text.
 */
export function parseLine(line) {
  if (!/[\x1b\r\b]/.test(line)) return [{ text: stripControls(line), style: null }];
  const chars = [];
  const styles = [];
  let style = { fg: null, bg: null, bold: false, underline: false, inverse: false };
  let frozen = null; // the current style object shared by cells until it changes
  let col = 0;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '\x1b') {
      const next = line[i + 1];
      if (next === '[') {
        let j = i + 2;
        while (j < line.length && !(line.charCodeAt(j) >= 0x40 && line.charCodeAt(j) <= 0x7e)) j++;
        const body = line.slice(i + 2, j);
        const final = line[j];
        if (final === 'm' && /^[\d;:]*$/.test(body)) {
          style = sgr({ ...style }, body === '' ? [] : body.split(/[;:]/).map((x) => parseInt(x, 10) || 0));
          frozen = null;
        } else if (final === 'K' && (body === '' || body === '0')) {
          chars.length = Math.min(chars.length, col);
          styles.length = chars.length;
        } else if (final === 'G') {
          col = Math.max(0, (parseInt(body, 10) || 1) - 1);
        }
        i = j;
      } else if (next === ']') {
        let j = i + 2;
        while (j < line.length && line[j] !== '\x07' && !(line[j] === '\x1b' && line[j + 1] === '\\')) j++;
        i = line[j] === '\x1b' ? j + 1 : j;
      } else if (next === '(' || next === ')') {
        i += 2;
      } else {
        i += 1;
      }
      continue;
    }
    if (ch === '\r') { col = 0; continue; }
    if (ch === '\b') { col = Math.max(0, col - 1); continue; }
    const code = ch.charCodeAt(0);
    if ((code < 0x20 && ch !== '\t') || code === 0x7f) continue;
    while (chars.length < col) { chars.push(' '); styles.push(null); }
    if (!frozen) frozen = isPlain(style) ? null : { ...style, key: styleKey(style) };
    chars[col] = ch;
    styles[col] = frozen;
    col++;
  }
  const segs = [];
  for (let k = 0; k < chars.length; k++) {
    const s = styles[k];
    const last = segs[segs.length - 1];
    if (last && (last.style === s || (last.style && s && last.style.key === s.key))) last.text += chars[k];
    else segs.push({ text: chars[k], style: s });
  }
  return segs.length ? segs : [{ text: '', style: null }];
}

const isPlain = (s) => s.fg === null && s.bg === null && !s.bold && !s.underline && !s.inverse;

function stripControls(s) {
  // eslint-disable-next-line no-control-regex
  return /[\x00-\x08\x0b-\x1f\x7f]/.test(s) ? s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '') : s;
}

/** applyStyle sets the classes (and 256-colour inline colours) of el. */
export function applyStyle(el, s, prefix = 'ansi') {
  if (!s) return;
  let fg = s.fg;
  let bg = s.bg;
  if (s.inverse) {
    [fg, bg] = [bg, fg];
    if (fg === null) el.classList.add(`${prefix}-inv-fg`);
    if (bg === null) el.classList.add(`${prefix}-inv-bg`);
  }
  if (fg !== null && fg !== undefined) {
    if (fg < 16) el.classList.add(`${prefix}-fg${fg}`);
    else el.style.color = color256(fg);
  }
  if (bg !== null && bg !== undefined) {
    if (bg < 16) el.classList.add(`${prefix}-bg${bg}`);
    else el.style.backgroundColor = color256(bg);
  }
  if (s.bold) el.classList.add(`${prefix}-bold`);
  if (s.underline) el.classList.add(`${prefix}-ul`);
}

/**
 * renderSegments fills el with the segments, wrapping the character ranges
 * [start, end) of marks in <mark> elements (search matches).
 */
export function renderSegments(el, segs, marks = []) {
  el.textContent = '';
  if (!marks.length && segs.length === 1 && !segs[0].style) { el.textContent = segs[0].text; return; }
  let pos = 0;
  let m = 0;
  for (const seg of segs) {
    const end = pos + seg.text.length;
    let cur = pos;
    while (cur < end) {
      while (m < marks.length && marks[m][1] <= cur) m++;
      const mk = marks[m];
      let stop = end;
      let marked = false;
      if (mk && mk[0] <= cur) { marked = true; stop = Math.min(end, mk[1]); }
      else if (mk && mk[0] < end) stop = mk[0];
      const text = seg.text.slice(cur - pos, stop - pos);
      let node;
      if (seg.style || marked) {
        node = document.createElement(marked ? 'mark' : 'span');
        node.textContent = text;
        applyStyle(node, seg.style);
      } else node = document.createTextNode(text);
      el.append(node);
      cur = stop;
    }
    pos = end;
  }
}
