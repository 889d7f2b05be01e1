// dialog.js: a modal confirmation (native <dialog>: focus is trapped and
// Escape cancels). With typeToConfirm the person types the name first.
import { h, button } from './dom.js';

/**
 * confirmDialog resolves true when the person confirms.
 * opts: title, message (string or node), confirmLabel, danger, typeToConfirm.
 * Selectors: [data-test=confirm] (the dialog), #confirm-input,
 * [data-test=confirm-ok], [data-test=confirm-cancel].
 */
export function confirmDialog({ title, message, confirmLabel = 'Delete', danger = true, typeToConfirm = '' }) {
  return new Promise((resolve) => {
    const ok = button(confirmLabel, { kind: danger ? 'danger' : 'primary', 'data-test': 'confirm-ok', type: 'submit' });
    const cancel = button('Cancel', { 'data-test': 'confirm-cancel' });
    let input = null;
    if (typeToConfirm) {
      input = h('input', { id: 'confirm-input', type: 'text', autocomplete: 'off', spellcheck: 'false', 'data-test': 'confirm-input' });
      ok.disabled = true;
      input.addEventListener('input', () => { ok.disabled = input.value.trim() !== typeToConfirm; });
    }
    const form = h('form', { method: 'dialog', class: 'dialog-body' },
      h('h2', { id: 'confirm-title' }, title),
      h('div', { class: 'dialog-message' }, message),
      input ? h('div', { class: 'field' },
        h('label', { for: 'confirm-input' }, 'Type ', h('strong', null, typeToConfirm), ' to confirm'),
        input) : null,
      h('div', { class: 'dialog-actions' }, cancel, ok));
    const dlg = h('dialog', { class: 'dialog', 'data-test': 'confirm', 'aria-labelledby': 'confirm-title' }, form);
    let result = false;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (ok.disabled) return;
      result = true;
      dlg.close();
    });
    cancel.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    document.body.append(dlg);
    dlg.showModal();
    (input || cancel).focus();
  });
}
