// errorview.js: what a person sees when a request failed — the API's own
// words, the HTTP code and a way on. Never a blank screen.
import { h, link, button } from './dom.js';

const TITLES = {
  0: 'Cannot reach Berth',
  401: 'Your session ended',
  403: 'You do not have access',
  404: 'Not found',
  409: 'Conflict',
  410: 'Gone',
  422: 'The request was not valid',
  429: 'Too many requests',
  500: 'The server hit an error',
  503: 'The server is not ready',
};

export function errorTitle(err) {
  return TITLES[err?.code] || (err?.code >= 500 ? 'The server hit an error' : 'Something went wrong');
}

/** errorView renders err (an APIError, a Status or any Error). */
export function errorView(err, { retry } = {}) {
  const st = err?.status || (err?.kind === 'Status' ? err : {});
  const code = err?.code ?? st.code;
  const message = err?.message || st.message || String(err);
  const causes = st.details?.causes || [];
  return h('section', { class: 'error-view', 'data-test': 'error-view', role: 'alert' },
    h('h1', null, errorTitle({ code })),
    h('p', { class: 'error-message', 'data-test': 'error-message' }, message),
    causes.length ? h('ul', { class: 'error-causes' }, causes.map((c) => h('li', null, c.field ? h('code', null, c.field) : null, c.field ? ' ' : null, c.message))) : null,
    h('dl', { class: 'error-meta' },
      code ? [h('dt', null, 'HTTP status'), h('dd', null, String(code))] : null,
      st.reason ? [h('dt', null, 'Reason'), h('dd', null, st.reason)] : null,
      st.details?.kind ? [h('dt', null, 'Object'), h('dd', null, `${st.details.kind}${st.details.name ? ' ' + st.details.name : ''}`)] : null),
    h('div', { class: 'error-actions' },
      retry ? button('Try again', { kind: 'primary', onclick: retry, 'data-test': 'error-retry' }) : null,
      link('/projects', { class: 'btn' }, 'Go to projects')));
}

/** inlineError is a small banner for errors inside a page (e.g. a watch failed). */
export function inlineError(err) {
  const message = err?.message || String(err);
  return h('div', { class: 'banner banner-bad', role: 'alert', 'data-test': 'inline-error' }, message);
}
