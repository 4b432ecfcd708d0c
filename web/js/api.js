// The one way the inspector talks to memsvc: the public REST API, same origin.
// Every call says it comes from the inspector (X-Memsvc-Ui: 1, so the audit log records
// channel "web"); mutations send JSON, which a cross-site form cannot forge.

const TOKEN_KEY = 'memsvc.token';

export class ApiError extends Error {
  constructor(status, error, detail) {
    super(detail || error);
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

/** Tokens live in sessionStorage: gone when the tab closes, never sent to another origin. */
export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// The signal of the page on screen: app.js replaces it on every navigation and aborts
// the old one, so reads started by a page the user left never land on the next page.
let viewSignal = null;

export function setViewSignal(signal) {
  viewSignal = signal;
}

export function isAbort(err) {
  return Boolean(err) && (err.name === 'AbortError' || err.error === 'Aborted');
}

export async function request(method, path, body, { raw = false, signal, read = false } = {}) {
  const headers = { 'X-Memsvc-Ui': '1', Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
  // Reads belong to the page that asked; a write, once sent, is left to finish.
  const bound = signal || (method === 'GET' || read ? viewSignal : null);
  if (bound) init.signal = bound;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch('/api/v1' + path, init);
  } catch (err) {
    if (isAbort(err)) throw new ApiError(0, 'Aborted', 'The page changed before this loaded.');
    throw new ApiError(0, 'NetworkError', 'memsvc is not reachable; is `memsvc serve` running?');
  }
  if (!res.ok) {
    let payload = {};
    try { payload = await res.json(); } catch { /* not JSON (or aborted): keep the status */ }
    const error = new ApiError(res.status, payload.error || 'HTTPError',
      payload.detail || `${res.status} ${res.statusText}`);
    if (res.status === 401) window.dispatchEvent(new CustomEvent('memsvc:unauthenticated'));
    throw error;
  }
  if (raw) return res;
  if (res.status === 204) return null;
  try {
    return await res.json();
  } catch (err) {
    if (isAbort(err)) throw new ApiError(0, 'Aborted', 'The page changed before this loaded.');
    throw err;
  }
}

const P = encodeURIComponent;

function qs(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, String(v));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export const api = {
  meta: () => request('GET', '/meta'),
  whoami: () => request('GET', '/whoami'),
  projects: () => request('GET', '/projects').then((r) => r.projects),
  createProject: (body) => request('POST', '/projects', body),
  project: (p) => request('GET', `/projects/${P(p)}`),
  stats: (p) => request('GET', `/projects/${P(p)}/stats`),
  memories: (p, params) => request('GET', `/projects/${P(p)}/memories${qs(params)}`),
  memory: (p, id) => request('GET', `/projects/${P(p)}/memories/${P(id)}`),
  history: (p, id) => request('GET', `/projects/${P(p)}/memories/${P(id)}/history`)
    .then((r) => r.versions),
  details: (p, id, params = {}) => request('GET', `/projects/${P(p)}/memories/${P(id)}/details${qs(params)}`),
  memoryAudit: (p, id, params = {}) =>
    request('GET', `/projects/${P(p)}/memories/${P(id)}/audit${qs(params)}`),
  addMemory: (p, draft) => request('POST', `/projects/${P(p)}/memories`, draft),
  updateMemory: (p, id, patch) => request('PATCH', `/projects/${P(p)}/memories/${P(id)}`, patch),
  deleteMemory: (p, id) => request('DELETE', `/projects/${P(p)}/memories/${P(id)}`),
  restoreMemory: (p, id) => request('POST', `/projects/${P(p)}/memories/${P(id)}/restore`),
  supersede: (p, id, draft) =>
    request('POST', `/projects/${P(p)}/memories/${P(id)}/supersede`, draft),
  search: (p, query) => request('POST', `/projects/${P(p)}/search`, query, { read: true }),
  review: (p, params = {}) => request('GET', `/projects/${P(p)}/review${qs(params)}`),
  resolve: (p, id, action) => request('POST', `/projects/${P(p)}/review/${P(id)}`, { action }),
  reviewPolicy: (p) => request('GET', `/projects/${P(p)}/review-policy`),
  setReviewPolicy: (p, policy) => request('PUT', `/projects/${P(p)}/review-policy`, policy),
  approve: (p, id, edit) => request('POST', `/projects/${P(p)}/memories/${P(id)}/approve`, { edit: edit || null }),
  reject: (p, id, reason = '') => request('POST', `/projects/${P(p)}/memories/${P(id)}/reject`, { reason }),
  quarantines: (p) => request('GET', `/projects/${P(p)}/quarantines`).then((r) => r.quarantines),
  quarantine: (p, body) => request('POST', `/projects/${P(p)}/quarantines`, body),
  restoreQuarantine: (p, id) => request('POST', `/projects/${P(p)}/quarantines/${P(id)}/restore`),
  deleteQuarantined: (p, id) => request('POST', `/projects/${P(p)}/quarantines/${P(id)}/delete`),
  audit: (p, params) => request('GET', `/projects/${P(p)}/audit${qs(params)}`),
  fleet: (days) => request('GET', `/fleet/dashboard${qs({ days })}`),
  exportProject: (p) => request('GET', `/projects/${P(p)}/export`, undefined, { raw: true }),
};
