// The single-page app: hash routes, the top bar, sign-out.
//
//   #/signin                 sign in with the admin token
//   #/logs?filters…          the OCPP Logs table (filters in the hash, so a link can be shared)
//   #/stations               the station list
//   #/stations/{id}          one station
//   #/admin                  sites and their log levels, station assignment
//   #/console?station=…      send a command to a station
//
// Every page module exports render(container, query, params) and may return a cleanup
// function that the router calls before the next page (to stop streams and timers).

import { getToken, clearToken } from './api.js';
import { h, replace } from './dom.js';
import * as signin from './signin.js';
import * as logs from './logs.js';
import * as stations from './stations.js';
import * as station from './station.js';
import * as admin from './admin.js';
import * as console_ from './console.js';

const routes = [
  { re: /^\/signin$/, page: signin, nav: null, title: 'Sign in', open: true },
  { re: /^\/logs$/, page: logs, nav: 'logs', title: 'OCPP Logs' },
  { re: /^\/stations$/, page: stations, nav: 'stations', title: 'Stations' },
  { re: /^\/stations\/(.+)$/, page: station, nav: 'stations', title: 'Station' },
  { re: /^\/admin$/, page: admin, nav: 'admin', title: 'Log levels' },
  { re: /^\/console$/, page: console_, nav: 'console', title: 'Command console' },
];

let cleanup = null;

function parseHash() {
  const raw = (location.hash || '').replace(/^#/, '') || '/logs';
  const i = raw.indexOf('?');
  const path = i >= 0 ? raw.slice(0, i) : raw;
  const query = new URLSearchParams(i >= 0 ? raw.slice(i + 1) : '');
  return { path, query };
}

async function route() {
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
  document.getElementById('topbar').hidden = !!r.open;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${params[0] ? `${params[0]} · ` : ''}${r.title} · Chargewatch`;
  const main = document.getElementById('main');
  const container = h('div', { class: 'page', dataset: { page: r.nav || 'signin' } });
  replace(main, container);
  try {
    cleanup = (await r.page.render(container, query, params)) || null;
  } catch (e) {
    console.error(e);
    replace(container, h('div', { class: 'error-box', role: 'alert' }, `This page failed to load: ${e.message}`));
  }
}

function signOut() {
  clearToken();
  location.hash = '#/signin';
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => {
  document.getElementById('signout').addEventListener('click', signOut);
  route();
});
