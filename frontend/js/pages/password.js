// password.js: change your own password (the current one proves it is
// you) and, for cluster admins, set another user's. Other sessions of the
// user end: other browsers and berth logins are signed out; API tokens
// keep working.
import { get, put, paths } from '../api.js';
import { h } from '../ui/dom.js';
import { pageHeader } from '../ui/layout.js';
import { field, formAlert, clearErrors, showAPIError, setFieldError } from '../ui/forms.js';
import { session } from '../ui/session.js';
import { toast } from '../ui/toast.js';
import { Page, define } from '../ui/page.js';

const MIN_LENGTH = 8;

const passwordInput = (id, autocomplete) => h('input', { id, type: 'password', autocomplete, required: true, minlength: String(MIN_LENGTH) });

const change = (current, next) => ({ apiVersion: 'berth.dev/v1', kind: 'PasswordChange', currentPassword: current || undefined, newPassword: next });

/** checkNew puts a short or mistyped new password beside its field; it says whether the form may be sent. */
function checkNew(form, next, again, againPath) {
  if (next.value.length < MIN_LENGTH) { setFieldError(form, 'newPassword', `At least ${MIN_LENGTH} characters.`); next.focus(); return false; }
  if (again && next.value !== again.value) { setFieldError(form, againPath, 'The two passwords differ.'); again.focus(); return false; }
  return true;
}

class PasswordPage extends Page {
  async render() {
    this.title('Password');
    const parts = [
      pageHeader('Password', { sub: 'Changing a password signs its user out everywhere else: other browsers and berth logins. API tokens keep working; revoke them on the API tokens page.' }),
      this.ownForm(),
    ];
    if (session.clusterAdmin) parts.push(await this.resetForm());
    this.replaceChildren(...parts);
    this.querySelector('#password-current')?.focus();
  }

  ownForm() {
    const current = passwordInput('password-current', 'current-password');
    const next = passwordInput('password-new', 'new-password');
    const again = passwordInput('password-again', 'new-password');
    const done = h('div', { class: 'banner banner-info', role: 'status', 'data-test': 'password-changed', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'change-password' }, 'Change password');
    // The user name lets password managers file the new password.
    const user = h('input', { type: 'text', autocomplete: 'username', value: session.username, hidden: true, readOnly: true });
    const form = h('form', { class: 'card form-card password-form', novalidate: true, 'aria-label': 'Change your password' },
      h('h2', { class: 'card-title' }, `Change your password (${session.username})`),
      done, formAlert(), user,
      h('div', { class: 'form-grid' },
        field('Current password', current, { errorFor: 'currentPassword', cls: 'span-2' }),
        field('New password', next, { errorFor: 'newPassword', hint: `At least ${MIN_LENGTH} characters.` }),
        field('New password again', again, { errorFor: 'againPassword' })),
      h('div', { class: 'form-actions' }, submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      done.hidden = true;
      if (!current.value) { setFieldError(form, 'currentPassword', 'Enter your current password.'); current.focus(); return; }
      if (!checkNew(form, next, again, 'againPassword')) return;
      submit.disabled = true;
      try {
        await put(paths.password(session.username), change(current.value, next.value));
        for (const input of [current, next, again]) input.value = '';
        done.textContent = 'Password changed. Your other sessions are signed out; this one stays.';
        done.hidden = false;
        toast('Password changed');
      } catch (err) {
        if (err.code === 403) {
          setFieldError(form, 'currentPassword', err.message.replace(/^.*is forbidden: /, ''));
          current.select();
          current.focus();
        } else {
          showAPIError(form, err);
        }
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  async resetForm() {
    const users = await get(paths.users());
    const names = (users.items || []).map((u) => u.metadata.name).filter((n) => n !== session.username).sort();
    const list = h('datalist', { id: 'reset-users' }, names.map((n) => h('option', { value: n })));
    const user = h('input', { id: 'reset-user', type: 'text', list: 'reset-users', autocomplete: 'off', spellcheck: 'false', required: true });
    const next = passwordInput('reset-password', 'new-password');
    const done = h('div', { class: 'banner banner-info', role: 'status', 'data-test': 'password-reset', hidden: true });
    const submit = h('button', { type: 'submit', class: 'btn', 'data-test': 'reset-password' }, 'Set password');
    const form = h('form', { class: 'card form-card password-form', novalidate: true, 'aria-label': "Set another user's password" },
      h('h2', { class: 'card-title' }, "Set another user's password"),
      h('p', { class: 'muted small' }, 'As a cluster admin you need not know it. Tell the user their new password another way.'),
      done, formAlert(), list,
      h('div', { class: 'form-grid' },
        field('User', user, { errorFor: 'metadata.name' }),
        field('New password', next, { errorFor: 'newPassword', hint: `At least ${MIN_LENGTH} characters.` })),
      h('div', { class: 'form-actions' }, submit));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      done.hidden = true;
      const name = user.value.trim();
      if (!name) { setFieldError(form, 'metadata.name', 'Enter a user name.'); user.focus(); return; }
      if (!checkNew(form, next)) return;
      submit.disabled = true;
      try {
        await put(paths.password(name), change('', next.value));
        next.value = '';
        done.textContent = `Password of ${name} set. Their sessions are signed out.`;
        done.hidden = false;
        toast(`Password of ${name} set`);
      } catch (err) {
        if (err.code === 404) setFieldError(form, 'metadata.name', `There is no user ${name}.`);
        else showAPIError(form, err);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }
}
define('berth-password-page', PasswordPage);
