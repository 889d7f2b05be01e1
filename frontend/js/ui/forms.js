// forms.js: labelled fields and API validation errors shown beside them.
import { h } from './dom.js';

let seq = 0;

/**
 * field wraps a control with its label, a hint and an error slot.
 * errorFor is the API field path the error slot answers to (it becomes
 * [data-error-for=PATH]); also lists more path prefixes routed to it.
 */
export function field(label, control, { errorFor, also = [], hint, cls = '' } = {}) {
  if (!control.id) control.id = `f${++seq}`;
  const errId = `${control.id}-error`;
  const hintId = hint ? `${control.id}-hint` : null;
  control.setAttribute('aria-describedby', [hintId, errId].filter(Boolean).join(' '));
  const err = h('div', { class: 'field-error', id: errId, role: 'alert', 'data-error-for': errorFor || control.id, 'data-input': control.id });
  if (also.length) err.dataset.errorAlso = also.join('|');
  return h('div', { class: `field ${cls}`.trim() },
    h('label', { for: control.id }, label),
    control,
    hint ? h('div', { class: 'field-hint', id: hintId }, hint) : null,
    err);
}

/** formAlert is the slot for errors that belong to no single field. */
export const formAlert = () => h('div', { class: 'form-alert', role: 'alert', tabindex: '-1', 'data-test': 'form-error', hidden: true });

export function clearErrors(form) {
  for (const e of form.querySelectorAll('[data-error-for]')) e.textContent = '';
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  const a = form.querySelector('.form-alert');
  if (a) { a.hidden = true; a.textContent = ''; }
}

/** setFieldError puts message beside the field answering to path. */
export function setFieldError(form, path, message) {
  const slot = findSlot(form, path);
  if (!slot) return false;
  slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
  form.querySelector(`#${CSS.escape(slot.dataset.input)}`)?.setAttribute('aria-invalid', 'true');
  return true;
}

export function setFormAlert(form, message) {
  const a = form.querySelector('.form-alert');
  if (!a) return;
  a.textContent = a.textContent ? `${a.textContent} ${message}` : message;
  a.hidden = false;
}

// The slot whose path (or an "also" prefix) is the longest prefix of path.
function findSlot(form, path) {
  let best = null;
  let bestLen = -1;
  for (const slot of form.querySelectorAll('[data-error-for]')) {
    const keys = [slot.dataset.errorFor, ...(slot.dataset.errorAlso || '').split('|').filter(Boolean)];
    for (const k of keys) {
      if ((path === k || path.startsWith(k + '.') || path.startsWith(k + '[')) && k.length > bestLen) {
        best = slot;
        bestLen = k.length;
      }
    }
  }
  return best;
}

/**
 * showAPIError spreads an APIError over the form: each cause beside its
 * field, the rest (and the message when there are no causes) at the top.
 * A name that is taken goes beside metadata.name.
 */
export function showAPIError(form, err, { prefix = '' } = {}) {
  const causes = err?.status?.details?.causes || [];
  let placed = 0;
  const rest = [];
  for (const c of causes) {
    const slot = c.field ? findSlot(form, c.field) : null;
    if (!slot) { rest.push(c.field ? `${c.field}: ${c.message}` : c.message); continue; }
    placed++;
    // A field echoed elsewhere (the name as the container's name) says it once.
    if (slot.textContent && c.field !== slot.dataset.errorFor) continue;
    setFieldError(form, c.field, c.message);
  }
  if (!causes.length && err?.reason === 'AlreadyExists' && setFieldError(form, 'metadata.name', err.message)) placed++;
  else if (!causes.length) rest.push(err?.message || String(err));
  if (rest.length) setFormAlert(form, prefix + rest.join(' '));
  else if (placed && prefix) setFormAlert(form, prefix.trim());
  const first = form.querySelector('[aria-invalid=true]');
  (first || form.querySelector('.form-alert:not([hidden])'))?.focus?.();
  if (!first) form.querySelector('.form-alert')?.scrollIntoView?.({ block: 'nearest' });
}

/** select builds a <select> from [value, label] pairs. */
export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
}
