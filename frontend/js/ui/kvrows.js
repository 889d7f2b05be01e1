// kvrows.js: an editable list of name/value pairs (env vars, labels).
import { h, icon, button } from './dom.js';

let seq = 0;

/**
 * kvRows returns { el, values() }. opts: legend, keyLabel, valueLabel,
 * addLabel, test (data-test prefix: env → env-add, env-name, env-value),
 * errorFor / also (API field paths whose errors show under the group).
 */
export function kvRows({ legend, keyLabel, valueLabel, addLabel, test, errorFor, also = [], hint, keyPlaceholder = '', valuePlaceholder = '' }) {
  const id = `kv${++seq}`;
  const rows = h('div', { class: 'kv-rows' });
  const keyTest = test === 'env' ? 'env-name' : `${test}-key`;
  const err = h('div', { class: 'field-error', id: `${id}-error`, role: 'alert', 'data-error-for': errorFor, 'data-input': `${id}-add` });
  if (also.length) err.dataset.errorAlso = also.join('|');
  let n = 0;
  const addRow = (focus = true) => {
    n++;
    const k = h('input', { type: 'text', class: 'mono', autocomplete: 'off', spellcheck: 'false', 'aria-label': `${keyLabel} ${n}`, placeholder: keyPlaceholder, 'data-test': keyTest });
    const v = h('input', { type: 'text', class: 'mono', autocomplete: 'off', spellcheck: 'false', 'aria-label': `${valueLabel} ${n}`, placeholder: valuePlaceholder, 'data-test': `${test}-value` });
    const row = h('div', { class: 'kv-row' }, k, h('span', { class: 'kv-eq', 'aria-hidden': 'true' }, '='), v);
    row.append(h('button', {
      type: 'button', class: 'btn btn-ghost btn-icon', 'aria-label': `Remove ${keyLabel.toLowerCase()} ${n}`, title: 'Remove',
      onclick: () => { row.remove(); add.focus(); },
    }, icon('close')));
    rows.append(row);
    if (focus) k.focus();
  };
  const add = button(addLabel, { iconName: 'plus', class: 'btn btn-small', id: `${id}-add`, 'data-test': `${test}-add`, onclick: () => addRow() });
  add.setAttribute('aria-describedby', err.id);
  const el = h('fieldset', { class: 'kv' },
    h('legend', null, legend),
    hint ? h('div', { class: 'field-hint' }, hint) : null,
    rows, add, err);
  const values = () => [...rows.querySelectorAll('.kv-row')]
    .map((r) => { const [k, v] = r.querySelectorAll('input'); return [k.value.trim(), v.value]; })
    .filter(([k, v]) => k || v);
  return { el, values, addRow };
}
