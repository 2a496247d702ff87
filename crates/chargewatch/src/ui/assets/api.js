// The HTTP API client: adds the admin token, turns API errors into exceptions with the
// server's explanation, and sends the operator back to the sign-in page on 401.

const KEY = 'chargewatch.token';

export function getToken() {
  return sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || '';
}

/** Keeps the token for this tab only, or (remember) on this device. */
export function setToken(token, remember) {
  clearToken();
  (remember ? localStorage : sessionStorage).setItem(KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(KEY);
  localStorage.removeItem(KEY);
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

/** Checks a token without keeping it. */
export async function checkToken(token) {
  const res = await fetch('/api/v1/sites', { headers: { Authorization: `Bearer ${token}` } });
  if (res.status === 401) return false;
  if (!res.ok) throw new ApiError(res.status, '', `The server answered HTTP ${res.status}`);
  return true;
}

// Small cached look-ups used by several pages.
let sitesCache = null;
export async function sites(force = false) {
  if (!sitesCache || force) sitesCache = api('/api/v1/sites').catch((e) => { sitesCache = null; throw e; });
  return sitesCache;
}
export function forgetSites() {
  sitesCache = null;
}

export const enc = encodeURIComponent;
