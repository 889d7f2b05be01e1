// tokens.js: the user's API tokens — create (the secret is shown once,
// with lines to paste into a shell), list, revoke.
import { get, post, del, paths } from '../api.js';
import { h, button, timeEl, replace, copyText } from '../ui/dom.js';
import { pageHeader, table, card, empty, loading } from '../ui/layout.js';
import { field, formAlert, clearErrors, showAPIError, select } from '../ui/forms.js';
import { badge } from '../ui/status.js';
import { confirmDialog } from '../ui/dialog.js';
import { toast } from '../ui/toast.js';
import { Page, define } from '../ui/page.js';

const TTLS = [['24h', '1 day'], ['168h', '7 days'], ['720h', '30 days'], ['2160h', '90 days'], ['8760h', '1 year']];

function copyButton(text, label) {
  const b = button('Copy', { iconName: 'copy', class: 'btn btn-small', 'data-test': 'copy', 'aria-label': `Copy ${label}` });
  b.addEventListener('click', async () => {
    const ok = await copyText(text);
    b.querySelector('span').textContent = ok ? 'Copied' : 'Copy failed';
    setTimeout(() => { b.querySelector('span').textContent = 'Copy'; }, 1500);
  });
  return b;
}

const shq = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'"'"'`)}'`);

class TokensPage extends Page {
  async render() {
    this.title('API tokens');
    this.secretSlot = h('div');
    this.listSlot = h('div', null, loading());
    this.replaceChildren(
      pageHeader('API tokens', { sub: 'Tokens let the berth CLI, kubectl and scripts act as you. Each is shown once, when you create it.' }),
      this.secretSlot, this.createForm(), this.listSlot);
    await this.refresh();
  }

  createForm() {
    const name = h('input', { id: 'token-name', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'laptop' });
    const ttl = select(TTLS, '720h', { id: 'token-ttl' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'create-token' }, 'Create token');
    const form = h('form', { class: 'card form-card', novalidate: true, 'aria-label': 'Create a token' },
      h('h2', { class: 'card-title' }, 'Create a token'),
      formAlert(),
      h('div', { class: 'inline-form' },
        field('Name', name, { errorFor: 'metadata.name' }),
        field('Expires after', ttl, { errorFor: 'spec.ttl' }),
        h('div', { class: 'form-actions' }, submit)));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      try {
        const t = await post(paths.tokens(), { apiVersion: 'berth.dev/v1', kind: 'Token', metadata: { name: name.value.trim() }, spec: { ttl: ttl.value } });
        name.value = '';
        this.showSecret(t);
        await this.refresh();
      } catch (err) {
        showAPIError(form, err);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  showSecret(t) {
    const secret = t.status?.secret || '';
    const https = `https://${location.host}`;
    const lines = [
      ['kubectl', `curl -so berth-ca.crt ${location.origin}/ca.crt && kubectl --server ${https} --certificate-authority berth-ca.crt --token ${shq(secret)} get pods`],
      ['berth CLI', `berth --server ${location.origin} --token ${shq(secret)} get pods`],
      ['curl', `curl -H ${shq('Authorization: Bearer ' + secret)} ${location.origin}/apis/berth.dev/v1/whoami`],
    ];
    const value = h('input', { id: 'token-value', type: 'text', readOnly: true, value: secret, 'aria-label': `Secret of token ${t.metadata?.name}`, class: 'mono' });
    value.addEventListener('focus', () => value.select());
    const close = button('Done', { onclick: () => { this.secretSlot.replaceChildren(); this.querySelector('#token-name')?.focus(); } });
    replace(this.secretSlot, card(`Token ${t.metadata?.name || ''} created`, [
      h('div', { class: 'banner banner-warn' }, 'Copy it now: Berth keeps only a hash, so this is the only time you can see it.'),
      h('div', { class: 'secret-row' }, value, copyButton(secret, 'token')),
      lines.map(([label, cmd]) => [
        h('div', { class: 'cmd-label' }, label),
        h('div', { class: 'cmd' }, h('pre', { tabindex: '0', 'aria-label': `${label} command` }, cmd), copyButton(cmd, `${label} command`)),
      ]),
      h('p', { class: 'muted small' }, 'kubectl sends tokens over TLS only, so it needs the certificate of the CA that signed this server (served at /ca.crt).'),
      h('div', { class: 'form-actions' }, close),
    ], { cls: 'secret', attrs: { 'data-test': 'token-secret' } }));
    value.focus();
  }

  async refresh() {
    const list = await get(paths.tokens());
    const items = (list.items || []).sort((a, b) => String(b.metadata.creationTimestamp || '').localeCompare(String(a.metadata.creationTimestamp || '')));
    if (!items.length) { replace(this.listSlot, empty('No tokens', 'Sign-in sessions of this console are not listed here.')); return; }
    const { el, tbody } = table(['Name', 'Created', 'Expires', 'Last used', ['', 'col-actions']], { caption: 'Your tokens' });
    const now = Date.now();
    for (const t of items) {
      const n = t.metadata.name;
      const exp = t.status?.expiresAt;
      const expired = exp && new Date(exp).getTime() < now;
      tbody.append(h('tr', { 'data-test': 'token-row', 'data-token': n },
        h('td', null, h('span', { class: 'strong-link' }, n), (t.spec?.kind === 'node' || t.spec?.kind === 'bootstrap') ? [' ', badge(t.spec.kind, 'info')] : null),
        h('td', null, timeEl(t.metadata.creationTimestamp, ' ago')),
        h('td', null, expired ? badge('expired', 'bad') : exp ? new Date(exp).toLocaleDateString() : 'never'),
        h('td', null, t.status?.lastUsed ? timeEl(t.status.lastUsed, ' ago') : h('span', { class: 'muted' }, 'never')),
        h('td', { class: 'col-actions' }, button('Revoke', {
          kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small', 'data-test': 'revoke-token', 'data-token': n,
          'aria-label': `Revoke token ${n}`, onclick: () => this.revoke(n),
        }))));
    }
    replace(this.listSlot, card('Your tokens', el));
  }

  async revoke(n) {
    const ok = await confirmDialog({ title: `Revoke ${n}?`, message: 'Programs that use it are refused from now on.', confirmLabel: 'Revoke' });
    if (!ok) return;
    try {
      await del(paths.token(n));
      toast(`Token ${n} revoked`);
      await this.refresh();
    } catch (err) {
      toast(`Cannot revoke ${n}: ${err.message}`, 'bad');
    }
  }
}
define('berth-tokens-page', TokensPage);
