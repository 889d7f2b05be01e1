// router.js: the hash router. Routes map "#/path?query" to a page element
// that its module defines; modules load on first use.

const routes = [];

/**
 * route registers pattern ("/projects/:ns/pods/:name") → { load, tag,
 * attrs(params, query) → attributes, public (no sign-in needed), section }.
 */
export function route(pattern, spec) {
  const names = [];
  const re = new RegExp('^' + pattern.replace(/:([a-z]+)/gi, (_, n) => { names.push(n); return '([^/]+)'; }) + '/?$');
  routes.push({ pattern, re, names, ...spec });
}

/** current parses location.hash into { path, query, route, params }. */
export function current(hash = location.hash) {
  let raw = hash.replace(/^#/, '') || '/';
  if (!raw.startsWith('/')) raw = '/' + raw;
  const qi = raw.indexOf('?');
  const path = qi >= 0 ? raw.slice(0, qi) : raw;
  const query = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : '');
  for (const r of routes) {
    const m = path.match(r.re);
    if (m) {
      const params = {};
      r.names.forEach((n, i) => {
        try { params[n] = decodeURIComponent(m[i + 1]); } catch { params[n] = m[i + 1]; }
      });
      return { path, query, route: r, params, full: raw };
    }
  }
  return { path, query, route: null, params: {}, full: raw };
}

/** navigate goes to path ("/projects/demo"); replace keeps history clean. */
export function navigate(path, { replace = false } = {}) {
  const hash = '#' + path;
  if (location.hash === hash) {
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else if (replace) {
    history.replaceState(null, '', hash);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = hash;
  }
}

export const enc = encodeURIComponent;

/** Paths of the console's pages. */
export const to = {
  login: (next, expired) => `/login${next || expired ? '?' + new URLSearchParams({ ...(next ? { next } : {}), ...(expired ? { expired: '1' } : {}) }) : ''}`,
  projects: () => '/projects',
  project: (ns) => `/projects/${enc(ns)}`,
  deploy: (ns) => `/projects/${enc(ns)}/deploy`,
  members: (ns) => `/projects/${enc(ns)}/members`,
  events: (ns) => `/projects/${enc(ns)}/events`,
  config: (ns) => `/projects/${enc(ns)}/config`,
  network: (ns) => `/projects/${enc(ns)}/network`,
  services: (ns) => `/projects/${enc(ns)}/services`,
  pod: (ns, name, tab) => `/projects/${enc(ns)}/pods/${enc(name)}${tab ? '?tab=' + enc(tab) : ''}`,
  nodes: () => '/nodes',
  hostImages: () => '/hostimages',
  hostImage: (name, tab) => `/hostimages/${enc(name)}${tab ? '?tab=' + enc(tab) : ''}`,
  build: (image, build) => `/hostimages/${enc(image)}/builds/${enc(build)}`,
  buildDiff: (image, from, to) => `/hostimages/${enc(image)}/diff?from=${enc(from)}&to=${enc(to)}`,
  usage: () => '/usage',
  audit: () => '/audit',
  tokens: () => '/tokens',
  password: () => '/password',
};
