// The single-page app: hash routes, the top bar, sign-out.
//
//   #/signin                 sign in with a user account or the admin token
//   #/logs?filters…          the OCPP Logs table (filters in the hash, so a link can be shared)
//   #/stations               the station list
//   #/stations/{id}          one station
//   #/admin                  sites and their log levels, station assignment; for admins also
//                            clients, users, id tags and the pipeline statistics
//   #/audit                  the audit trail (who changed what), newest first
//   #/console?station=…      send a command to a station
//
// Every page module exports render(container, query, params) and may return a cleanup
// function that the router calls before the next page (to stop streams and timers).

import { getToken, clearToken, logout, whoami } from './api.js';
import { h, replace, badge, errorBox } from './dom.js';
import * as signin from './signin.js';
import * as logs from './logs.js';
import * as stations from './stations.js';
import * as station from './station.js';
import * as admin from './admin.js';
import * as console_ from './console.js';
import * as audit from './audit.js';

const routes = [
  { re: /^\/signin$/, page: signin, nav: null, title: 'Sign in', open: true },
  { re: /^\/logs$/, page: logs, nav: 'logs', title: 'OCPP Logs' },
  { re: /^\/stations$/, page: stations, nav: 'stations', title: 'Stations' },
  { re: /^\/stations\/(.+)$/, page: station, nav: 'stations', title: 'Station' },
  { re: /^\/admin$/, page: admin, nav: 'admin', title: 'Administration' },
  { re: /^\/audit$/, page: audit, nav: 'audit', title: 'Audit trail' },
  { re: /^\/console$/, page: console_, nav: 'console', title: 'Command console' },
];

let cleanup = null;
/** Counts route() calls, so a slow one that a newer one overtook stops. */
let routeSeq = 0;

function parseHash() {
  const raw = (location.hash || '').replace(/^#/, '') || '/logs';
  const i = raw.indexOf('?');
  const path = i >= 0 ? raw.slice(0, i) : raw;
  const query = new URLSearchParams(i >= 0 ? raw.slice(i + 1) : '');
  return { path, query };
}

async function route() {
  const seq = ++routeSeq;
  const { path, query } = parseHash();
  const r = routes.find((x) => x.re.test(path));
  if (!r) {
    location.replace('#/logs');
    return;
  }
  if (!r.open && !getToken()) {
    location.replace(`#/signin?next=${encodeURIComponent(location.hash || '#/logs')}`);
    return;
  }
  if (cleanup) {
    try {
      cleanup();
    } catch (e) {
      console.error(e);
    }
    cleanup = null;
  }
  const params = path.match(r.re).slice(1).map(decodeURIComponent);
  const main = document.getElementById('main');
  if (!r.open) {
    // Who is signed in decides what the pages show (operators see their client's sites only).
    try {
      const me = await whoami();
      if (seq !== routeSeq) return;
      showUser(me);
    } catch (e) {
      if (seq !== routeSeq || e.status === 401) return; // 401: signedOut() already went to the sign-in page
      document.getElementById('topbar').hidden = false;
      replace(main, h('div', { class: 'page' }, errorBox(e, route)));
      return;
    }
  }
  document.getElementById('topbar').hidden = !!r.open;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${params[0] ? `${params[0]} · ` : ''}${r.title} · Chargewatch`;
  const container = h('div', { class: 'page', dataset: { page: r.nav || 'signin' } });
  replace(main, container);
  try {
    const done = (await r.page.render(container, query, params)) || null;
    // A newer route may have started while this page loaded: stop this one at once.
    if (seq === routeSeq) cleanup = done;
    else if (done) done();
  } catch (e) {
    console.error(e);
    replace(container, h('div', { class: 'error-box', role: 'alert' }, `This page failed to load: ${e.message}`));
  }
}

/** The signed-in name and role in the top bar; admin-only links hidden for operators. */
function showUser(me) {
  const admin = me.role === 'admin';
  document.body.dataset.role = me.role;
  replace(document.getElementById('whoami'),
    h('span', { class: 'who-name', title: me.client_id ? `Client ${me.client_id}` : null }, me.name), ' ',
    badge(admin ? 'admin' : 'operator', admin ? 'role-admin' : 'role-operator'));
  for (const el of document.querySelectorAll('[data-admin-only]')) el.hidden = !admin;
}

async function signOut() {
  const button = document.getElementById('signout');
  button.disabled = true;
  try {
    await logout();
  } finally {
    button.disabled = false;
    clearToken();
    delete document.body.dataset.role;
    replace(document.getElementById('whoami'));
    location.hash = '#/signin';
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => {
  document.getElementById('signout').addEventListener('click', signOut);
  route();
});
