// The station list: connection state, site, last seen, firmware, connector states.

import { api, sites as loadSites, enc } from './api.js';
import { h, replace, timeEl, badge, errorBox, loading } from './dom.js';
import { errorTooltip } from './ocpp.js';

const REFRESH_MS = 10_000;

export function statusBadge(status, errorCode) {
  const err = errorCode && errorCode !== 'NoError';
  return h('span', { class: `status status-${status}`, title: err ? `${errorCode}: ${errorTooltip(errorCode)}` : null },
    status, err ? ` · ${errorCode}` : '');
}

export function connectionBadge(connected) {
  return connected ? badge('Connected', 'ok') : badge('Offline', 'off');
}

export async function render(container) {
  const abort = new AbortController();
  const search = h('input', { id: 'st-search', type: 'search', placeholder: 'Station, site, vendor…', 'aria-label': 'Search stations' });
  const onlyConnected = h('input', { id: 'st-connected', type: 'checkbox' });
  const body = h('div', { class: 'table-area' }, loading('Loading stations…'));
  const updated = h('span', { class: 'muted', role: 'status' });
  let data = [];
  let siteNames = new Map();

  replace(container,
    h('div', { class: 'page-head' },
      h('h1', {}, 'Stations'),
      h('div', { class: 'toolbar' }, search,
        h('span', { class: 'check' }, onlyConnected, h('label', { for: 'st-connected' }, 'Connected only')),
        h('button', { type: 'button', class: 'btn', onclick: () => refresh(true) }, 'Refresh'), updated)),
    body);

  function draw() {
    const needle = search.value.trim().toLowerCase();
    const shown = data.filter((s) => (!onlyConnected.checked || s.connected) && (!needle || [s.id, s.site_id, siteNames.get(s.site_id), s.vendor, s.model, s.firmware_version]
      .some((v) => v && String(v).toLowerCase().includes(needle))));
    if (!data.length) {
      replace(body, h('p', { class: 'empty' }, 'No stations yet. A charger appears here when it connects to ws://<host>:9000/ocpp/<chargeBoxId>, or when it is registered on the Log levels page.'));
      return;
    }
    replace(body, h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'stations-table' },
      h('thead', {}, h('tr', {}, ['Station', 'Connection', 'Site', 'Vendor / model', 'Firmware', 'Last seen', 'Connectors', 'Log level']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, shown.map((s) => h('tr', { dataset: { station: s.id } },
        h('td', {}, h('a', { href: `#/stations/${enc(s.id)}` }, s.id)),
        h('td', {}, connectionBadge(s.connected)),
        h('td', {}, s.site_id ? siteNames.get(s.site_id) || s.site_id : h('span', { class: 'muted' }, 'no site')),
        h('td', {}, [s.vendor, s.model].filter(Boolean).join(' / ') || h('span', { class: 'muted' }, '—')),
        h('td', {}, s.firmware_version || h('span', { class: 'muted' }, '—')),
        h('td', {}, timeEl(s.last_seen_at, true)),
        h('td', { class: 'connectors' }, s.connectors.length
          ? s.connectors.map((c) => h('span', { class: 'conn' }, `${c.connector_id}: `, statusBadge(c.status, c.error_code)))
          : h('span', { class: 'muted' }, '—')),
        h('td', {}, badge(s.effective_log_level, `lvl-${s.effective_log_level}`), s.level_override ? h('span', { class: 'muted', title: 'Temporary per-station override' }, ' (override)') : null)))))),
    shown.length < data.length ? h('p', { class: 'muted' }, `${data.length - shown.length} more hidden by the search.`) : null);
  }

  async function refresh(showErrors) {
    try {
      const [list, sites] = await Promise.all([api('/api/v1/stations', { signal: abort.signal }), loadSites(true)]);
      data = list.sort((a, b) => a.id.localeCompare(b.id));
      siteNames = new Map(sites.map((s) => [s.id, s.name]));
      updated.textContent = `Updated ${new Date().toISOString().slice(11, 19)} UTC`;
      draw();
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (showErrors || !data.length) replace(body, errorBox(e, () => refresh(true)));
      else updated.textContent = `Refresh failed: ${e.message}`;
    }
  }

  search.addEventListener('input', draw);
  onlyConnected.addEventListener('change', draw);
  await refresh(true);
  const timer = setInterval(() => refresh(false), REFRESH_MS);
  return () => {
    clearInterval(timer);
    abort.abort();
  };
}
