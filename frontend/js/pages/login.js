// login.js: sign in with a username and password (POST /auth/login).
import { login } from '../api.js';
import { h, icon } from '../ui/dom.js';
import { loadSession } from '../ui/session.js';
import { navigate, to } from '../router.js';
import { Page, define } from '../ui/page.js';

class LoginPage extends Page {
  async render() {
    this.title('Sign in');
    const next = this.getAttribute('next') || '';
    const expired = this.getAttribute('expired') === '1';
    const user = h('input', { id: 'login-username', name: 'username', type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
    const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const error = h('div', { class: 'form-alert', role: 'alert', 'data-test': 'login-error', hidden: true });
    const submit = h('button', { id: 'login-submit', type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in');
    const form = h('form', { class: 'login-form', novalidate: true },
      expired ? h('div', { class: 'banner banner-warn', 'data-test': 'session-expired' }, 'Your session ended, sign in again.') : null,
      error,
      h('div', { class: 'field' }, h('label', { for: 'login-username' }, 'Username'), user),
      h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), pass),
      submit);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      error.hidden = true;
      if (!user.value.trim() || !pass.value) {
        error.textContent = 'Enter your username and password.';
        error.hidden = false;
        (user.value.trim() ? pass : user).focus();
        return;
      }
      submit.disabled = true;
      submit.textContent = 'Signing in…';
      try {
        await login(user.value.trim(), pass.value);
        await loadSession();
        const dest = next && next.startsWith('/') && !next.startsWith('/login') ? next : to.projects();
        navigate(dest, { replace: true });
      } catch (err) {
        error.textContent = err.code === 401 ? 'The username or password is not right.' : err.message;
        error.hidden = false;
        pass.select();
        pass.focus();
        submit.disabled = false;
        submit.textContent = 'Sign in';
      }
    });
    this.replaceChildren(h('div', { class: 'login-wrap' },
      h('section', { class: 'login-card', 'aria-labelledby': 'login-title' },
        h('div', { class: 'login-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'B'), h('span', null, 'Berth')),
        h('h1', { id: 'login-title' }, 'Sign in'),
        h('p', { class: 'muted' }, 'Deploy, watch and scale your containers.'),
        form),
      h('p', { class: 'login-foot muted' }, icon('tokens'), ' The first admin password is in ', h('code', null, '.berth/admin-password'), '.')));
    user.focus();
  }
}
define('berth-login-page', LoginPage);
