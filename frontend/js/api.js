// api.js: the console's only door to Berth — the same REST API as the CLI
// and kubectl. Requests carry the session cookie (same origin) and, when
// they change something, the CSRF token from the berth_csrf cookie.

/** APIError is a failed request, holding the Kubernetes Status. */
export class APIError extends Error {
  constructor(status, httpCode) {
    super(status?.message || `request failed with HTTP ${httpCode}`);
    this.status = status || {};
    this.code = httpCode;
    this.reason = status?.reason || '';
  }
  /** causes maps a field path ("spec.containers[0].image") to its message. */
  get causes() {
    const out = {};
    for (const c of this.status?.details?.causes || []) {
      if (c.field) out[c.field] = (out[c.field] ? out[c.field] + '; ' : '') + c.message;
    }
    return out;
  }
}

function cookie(name) {
  const m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
  return m ? decodeURIComponent(m[1]) : '';
}

/** Listeners told when the session is gone (401), to show sign-in. */
const unauthorizedListeners = new Set();
export function onUnauthorized(fn) { unauthorizedListeners.add(fn); return () => unauthorizedListeners.delete(fn); }

/**
 * request sends one API request. body may be an object (sent as JSON) or a
 * string; contentType overrides application/json (e.g. for merge patches).
 * It resolves to the decoded JSON answer (or text) and rejects with APIError.
 */
export async function request(method, path, { body, contentType, query, signal, accept } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  }
  const headers = { Accept: accept || 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = cookie('berth_csrf');
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = contentType || 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, { method, headers, body: payload, credentials: 'same-origin', signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new APIError({ message: `cannot reach the Berth server: ${err.message}`, reason: 'NetworkError' }, 0);
  }
  const text = await resp.text();
  let data = text;
  if ((resp.headers.get('Content-Type') || '').includes('json') && text) {
    try { data = JSON.parse(text); } catch { /* keep the text */ }
  }
  if (!resp.ok) {
    const err = new APIError(typeof data === 'object' ? data : { message: text }, resp.status);
    if (resp.status === 401 && !path.startsWith('/auth/login')) unauthorizedListeners.forEach((fn) => fn(err));
    throw err;
  }
  return data;
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts = {}) => request('POST', path, { ...opts, body });
export const put = (path, body, opts = {}) => request('PUT', path, { ...opts, body });
export const del = (path, opts) => request('DELETE', path, opts);
export const mergePatch = (path, body) => request('PATCH', path, { body, contentType: 'application/merge-patch+json' });

/** wsURL is the websocket address of an API path on this origin. */
export function wsURL(path) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}

/** Paths of the resources the console uses. */
export const paths = {
  namespaces: () => '/api/v1/namespaces',
  pods: (ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`,
  pod: (ns, name) => `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`,
  services: (ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}/services`,
  endpoints: (ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}/endpoints`,
  routes: (ns) => `/apis/berth.dev/v1/namespaces/${encodeURIComponent(ns)}/routes`,
  quotas: (ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}/resourcequotas`,
  rcs: (ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}/replicationcontrollers`,
  rc: (ns, name) => `/api/v1/namespaces/${encodeURIComponent(ns)}/replicationcontrollers/${encodeURIComponent(name)}`,
  events: (ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}/events`,
  configMaps: (ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}/configmaps`,
  secrets: (ns) => `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets`,
  secret: (ns, name) => `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets/${encodeURIComponent(name)}`,
  nodes: () => '/api/v1/nodes',
  projects: () => '/apis/berth.dev/v1/projects',
  project: (name) => `/apis/berth.dev/v1/projects/${encodeURIComponent(name)}`,
  projectNetwork: (name) => `/apis/berth.dev/v1/projects/${encodeURIComponent(name)}/network`,
  clusterNetwork: () => '/apis/berth.dev/v1/clusternetworks/default',
  members: (ns) => `/apis/berth.dev/v1/namespaces/${encodeURIComponent(ns)}/members`,
  member: (ns, user) => `/apis/berth.dev/v1/namespaces/${encodeURIComponent(ns)}/members/${encodeURIComponent(user)}`,
  tokens: () => '/apis/berth.dev/v1/tokens',
  token: (name) => `/apis/berth.dev/v1/tokens/${encodeURIComponent(name)}`,
  users: () => '/apis/berth.dev/v1/users',
  password: (user) => `/apis/berth.dev/v1/users/${encodeURIComponent(user)}/password`,
  whoami: () => '/apis/berth.dev/v1/whoami',
  audit: () => '/apis/berth.dev/v1/auditentries',
  node: (name) => `/api/v1/nodes/${encodeURIComponent(name)}`,
  nodeUpgrade: (name) => `/api/v1/nodes/${encodeURIComponent(name)}/upgrade`,
  hostImages: () => '/apis/berth.dev/v1/hostimages',
  hostImage: (name) => `/apis/berth.dev/v1/hostimages/${encodeURIComponent(name)}`,
  hostImageRevisions: (name) => `/apis/berth.dev/v1/hostimages/${encodeURIComponent(name)}/revisions`,
  hostImageRender: (name) => `/apis/berth.dev/v1/hostimages/${encodeURIComponent(name)}/render`,
  builds: () => '/apis/berth.dev/v1/hostimagebuilds',
  build: (name) => `/apis/berth.dev/v1/hostimagebuilds/${encodeURIComponent(name)}`,
  buildLog: (name) => `/apis/berth.dev/v1/hostimagebuilds/${encodeURIComponent(name)}/log`,
  buildCancel: (name) => `/apis/berth.dev/v1/hostimagebuilds/${encodeURIComponent(name)}/cancel`,
  buildDiff: (name) => `/apis/berth.dev/v1/hostimagebuilds/${encodeURIComponent(name)}/diff`,
};

/** login signs in and sets the session and CSRF cookies. */
export const login = (username, password) => post('/auth/login', { username, password });
export const logout = () => post('/auth/logout');
