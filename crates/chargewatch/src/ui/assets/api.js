// The HTTP API client: adds the bearer token (the admin token, or the token of a signed-in
// account), turns API errors into exceptions with the server's explanation, and sends the
// operator back to the sign-in page on 401. Also knows who is signed in (/api/v1/auth/me).

const KEY = 'chargewatch.token';
/** 'account' (from /api/v1/auth/login, revoked on sign-out) or 'admin' (the admin token). */
const KIND = 'chargewatch.token-kind';

/** whoami(): {token, p: Promise<me>} for the current token, and its last answer. */
let meCache = null;
let meValue = null;
/** sites(): the visible sites, cached. */
let sitesCache = null;

export function getToken() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || '';
}

export function tokenKind() {
  return sessionStorage.getItem(KIND) || localStorage.getItem(KIND) || 'admin';
}

/** Keeps the token for this tab only, or (remember) on this device. */
export function setToken(token, remember, kind = 'admin') {
  clearToken();
  const store = remember ? localStorage : sessionStorage;
  store.setItem(KEY, token);
  store.setItem(KIND, kind);
}

export function clearToken() {
  for (const store of [sessionStorage, localStorage]) {
    store.removeItem(KEY);
    store.removeItem(KIND);
  }
  meCache = null;
  meValue = null;
  // Another user may see other sites.
  sitesCache = null;
}

export class ApiError extends Error {
  constructor(status, error, detail) {
    super(detail || error || `HTTP ${status}`);
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

/** Called when the token is rejected: forget it and show the sign-in page. */
export function signedOut(reason) {
  clearToken();
  // Several calls may fail at once; the first one decides where to come back to.
  if (location.hash.startsWith('#/signin')) return;
  const here = location.hash && !location.hash.startsWith('#/signin') ? location.hash : '#/logs';
  sessionStorage.setItem('chargewatch.signin-reason', reason || '');
  location.hash = `#/signin?next=${encodeURIComponent(here)}`;
}

function headers(extra) {
  return { Authorization: `Bearer ${getToken()}`, ...extra };
}

async function failure(res) {
  let error = '';
  let detail = '';
  try {
    const body = await res.json();
    error = body.error || '';
    detail = body.detail || '';
  } catch {
    detail = res.statusText;
  }
  if (res.status === 401) signedOut('The server did not accept the token (it may have changed). Please sign in again.');
  return new ApiError(res.status, error, detail || `HTTP ${res.status}`);
}

/**
 * Calls the API and returns the parsed JSON. `body` (an object) is sent as JSON; `rawBody`
 * (a string) as is.
 */
export async function api(path, { method = 'GET', body, rawBody, signal } = {}) {
  const init = { method, signal, headers: headers() };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  } else if (rawBody !== undefined) {
    init.body = rawBody;
    init.headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached. Is Chargewatch running?');
  }
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/** Like api() but returns {status, body} for every HTTP status except 401 (for the console). */
export async function apiRaw(path, { method = 'GET', rawBody, signal } = {}) {
  const res = await fetch(path, { method, signal, body: rawBody, headers: headers({ 'Content-Type': 'application/json' }) });
  if (res.status === 401) throw await failure(res);
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, body };
}

/** Downloads a response as a Blob (for exports: a link can't carry the token). */
export async function fetchBlob(path, signal) {
  const res = await fetch(path, { headers: headers(), signal });
  if (!res.ok) throw await failure(res);
  return res.blob();
}

/** Opens a streaming response (the SSE live tail) with the token. */
export async function openStream(path, signal) {
  const res = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal, cache: 'no-store' });
  if (!res.ok) throw await failure(res);
  return res;
}

/**
 * Signs in with a user name and password. Returns the login answer ({token, token_id, user}),
 * or null when the server refuses the credentials.
 */
export async function login(username, password) {
  let res;
  try {
    res = await fetch('/api/v1/auth/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }),
    });
  } catch {
    throw new ApiError(0, 'network', 'The server cannot be reached. Is Chargewatch running?');
  }
  if (res.status === 401) return null;
  if (res.status === 404) throw new ApiError(404, 'not_found', 'This server has no user accounts; sign in with the admin token.');
  if (!res.ok) throw await failure(res);
  return res.json();
}

/** Ends an account session on the server (the admin token cannot be signed out). */
export async function logout() {
  const token = getToken();
  if (!token || tokenKind() !== 'account') return;
  try {
    await fetch('/api/v1/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  } catch {
    // Signing out locally still works; the token stays valid until revoked.
  }
}

/**
 * Who is signed in: {name, role: 'admin'|'operator', client_id, sites}. Cached per token.
 * A server without accounts (no /api/v1/auth/me) means the admin token.
 */
export async function whoami(force = false) {
  const token = getToken();
  if (!meCache || force || meCache.token !== token) {
    const p = api('/api/v1/auth/me')
      .catch((e) => {
        if (e.status === 404) return { name: 'admin', role: 'admin', client_id: null, sites: null };
        meCache = null;
        throw e;
      })
      .then((me) => {
        meValue = me;
        return me;
      });
    meCache = { token, p };
  }
  return meCache.p;
}

/** The last answer of whoami() (pages render after the router has awaited it). */
export function currentUser() {
  return meValue;
}

export function isAdmin() {
  return meValue?.role === 'admin';
}

/** Checks a token without keeping it. */
export async function checkToken(token) {
  const res = await fetch('/api/v1/sites', { headers: { Authorization: `Bearer ${token}` } });
  if (res.status === 401) return false;
  if (!res.ok) throw new ApiError(res.status, '', `The server answered HTTP ${res.status}`);
  return true;
}

// Small cached look-ups used by several pages (forgotten when the token changes).
export async function sites(force = false) {
  if (!sitesCache || force) sitesCache = api('/api/v1/sites').catch((e) => { sitesCache = null; throw e; });
  return sitesCache;
}
export function forgetSites() {
  sitesCache = null;
}

export const enc = encodeURIComponent;
