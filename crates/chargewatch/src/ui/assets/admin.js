// Log levels ("Admin"): every site's level (applied at once), new sites, and which site each
// station belongs to.

import { api, sites as loadSites, forgetSites, enc } from './api.js';
import { h, replace, errorBox, loading, toast, badge } from './dom.js';

const LEVELS = [
  ['none', 'None', 'Nothing is kept.'],
  ['info', 'Info', 'Authorize, BootNotification, Start/StopTransaction, StatusNotification, every CALLERROR, connects and disconnects.'],
  ['debug', 'Debug', 'Every frame of every action (Heartbeat, MeterValues, commands…).'],
];

export async function render(container) {
  const abort = new AbortController();
  const sitesBox = h('div', {}, loading('Loading sites…'));
  const stationsBox = h('div', {}, loading('Loading stations…'));
  let sites = [];
  const regSite = h('select', { id: 'reg-site' }, h('option', { value: '' }, '— no site —'));

  replace(container,
    h('div', { class: 'page-head' }, h('h1', {}, 'Log levels')),
    h('p', { class: 'help' }, 'Each site has a log level. A change applies to the next frame of every station of the site, without any charger reconnecting. Stations without a site are logged at the default level (info).'),
    h('dl', { class: 'levels-legend' }, LEVELS.map(([, label, text]) => [h('dt', {}, label), h('dd', {}, text)])),
    h('section', { class: 'card' }, h('h2', {}, 'Sites'), sitesBox, newSiteForm()),
    h('section', { class: 'card' }, h('h2', {}, 'Stations and their sites'), stationsBox, registerForm()));


  function levelPicker(site) {
    const name = `level-${site.id}`;
    const status = h('span', { class: 'save-state', role: 'status' });
    const group = h('fieldset', { class: 'segmented', dataset: { site: site.id } },
      h('legend', { class: 'sr-only' }, `Log level of ${site.name}`),
      LEVELS.map(([value, label, text]) => {
        const id = `${name}-${value}`;
        return [
          h('input', { type: 'radio', name, id, value, checked: site.log_level === value, onchange: () => change(value) }),
          h('label', { for: id, title: text }, label),
        ];
      }));
    let saved = site.log_level;
    async function change(value) {
      status.textContent = 'Saving…';
      status.className = 'save-state saving';
      try {
        const updated = await api(`/api/v1/sites/${enc(site.id)}`, { method: 'PATCH', body: { log_level: value }, signal: abort.signal });
        saved = updated.log_level;
        forgetSites();
        status.textContent = `Saved: ${updated.log_level}`;
        status.className = 'save-state saved';
      } catch (e) {
        if (e.name === 'AbortError') return;
        status.textContent = `Not saved: ${e.message}`;
        status.className = 'save-state failed';
        for (const input of group.querySelectorAll('input')) input.checked = input.value === saved;
      }
    }
    return [group, status];
  }

  async function drawSites() {
    try {
      sites = await loadSites(true);
    } catch (e) {
      if (e.name !== 'AbortError') replace(sitesBox, errorBox(e, drawSites));
      return;
    }
    replace(regSite, h('option', { value: '' }, '— no site —'), sites.map((s) => h('option', { value: s.id }, s.name)));
    if (!sites.length) {
      replace(sitesBox, h('p', { class: 'empty' }, 'No sites yet. Create one below, then assign stations to it.'));
      return;
    }
    replace(sitesBox, h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'sites-table' },
      h('thead', {}, h('tr', {}, ['Site', 'Id', 'Log level', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, sites.map((s) => h('tr', { dataset: { site: s.id } },
        h('td', {}, s.name), h('td', {}, h('code', {}, s.id)),
        h('td', {}, levelPicker(s)),
        h('td', {}, h('a', { href: `#/logs?site_id=${enc(s.id)}` }, 'Logs'))))))));
  }

  async function drawStations() {
    let stations;
    try {
      stations = await api('/api/v1/stations', { signal: abort.signal });
    } catch (e) {
      if (e.name !== 'AbortError') replace(stationsBox, errorBox(e, drawStations));
      return;
    }
    if (!stations.length) {
      replace(stationsBox, h('p', { class: 'empty' }, 'No stations yet.'));
      return;
    }
    stations.sort((a, b) => a.id.localeCompare(b.id));
    replace(stationsBox, h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'assign-table' },
      h('thead', {}, h('tr', {}, ['Station', 'Site', 'Effective level'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, stations.map((st) => {
        const id = `assign-${st.id}`;
        const select = h('select', { id, dataset: { station: st.id } },
          h('option', { value: '' }, '— no site —'),
          sites.map((s) => h('option', { value: s.id, selected: s.id === st.site_id }, s.name)));
        const state = h('span', { class: 'save-state', role: 'status' });
        select.addEventListener('change', async () => {
          state.textContent = 'Saving…';
          try {
            await api(`/api/v1/stations/${enc(st.id)}`, { method: 'PUT', body: { site_id: select.value || null }, signal: abort.signal });
            state.textContent = 'Saved';
            toast(`${st.id} now belongs to ${select.value ? select.selectedOptions[0].textContent : 'no site'}.`);
            drawStations();
          } catch (e) {
            if (e.name !== 'AbortError') state.textContent = `Not saved: ${e.message}`;
          }
        });
        return h('tr', { dataset: { station: st.id } },
          h('td', {}, h('a', { href: `#/stations/${enc(st.id)}` }, st.id),
            st.registered ? null : [' ', badge('not registered', 'warn')]),
          h('td', {}, h('label', { for: id, class: 'sr-only' }, `Site of ${st.id}`), select, ' ', state),
          h('td', {}, badge(st.effective_log_level, `lvl-${st.effective_log_level}`)));
      })))));
  }

  function newSiteForm() {
    const id = h('input', { id: 'ns-id', name: 'id', required: true, pattern: '[A-Za-z0-9_-]{1,64}', placeholder: 'berlin-hq', autocomplete: 'off' });
    const name = h('input', { id: 'ns-name', name: 'name', required: true, maxlength: 200, placeholder: 'Berlin HQ' });
    const level = h('select', { id: 'ns-level', name: 'log_level' }, LEVELS.map(([v, l]) => h('option', { value: v, selected: v === 'info' }, l)));
    const message = h('p', { class: 'form-message', role: 'status' });
    name.addEventListener('input', () => {
      if (!id.dataset.touched) id.value = name.value.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
    });
    id.addEventListener('input', () => { id.dataset.touched = '1'; });
    return h('form', { class: 'inline-form', id: 'new-site', onsubmit: async (ev) => {
      ev.preventDefault();
      if (!ev.target.reportValidity()) return;
      try {
        await api('/api/v1/sites', { method: 'POST', body: { id: id.value.trim(), name: name.value.trim(), log_level: level.value }, signal: abort.signal });
        toast(`Site ${name.value.trim()} created.`);
        ev.target.reset();
        delete id.dataset.touched;
        message.textContent = '';
        await drawSites();
        drawStations();
      } catch (e) {
        message.textContent = `Not created: ${e.message}`;
        message.className = 'form-message error-text';
      }
    } },
    h('h3', {}, 'New site'),
    h('div', { class: 'inline-fields' },
      h('label', { for: 'ns-name' }, 'Name'), name,
      h('label', { for: 'ns-id' }, 'Id'), id,
      h('label', { for: 'ns-level' }, 'Level'), level,
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create site')),
    message);
  }

  function registerForm() {
    const station = h('input', { id: 'reg-station', required: true, placeholder: 'CP-001', autocomplete: 'off' });
    const message = h('p', { class: 'form-message', role: 'status' });
    return h('form', { class: 'inline-form', id: 'register-station', onsubmit: async (ev) => {
      ev.preventDefault();
      const sid = station.value.trim();
      if (!sid) return;
      try {
        await api(`/api/v1/stations/${enc(sid)}`, { method: 'PUT', body: { site_id: regSite.value || null }, signal: abort.signal });
        toast(`Station ${sid} registered.`);
        station.value = '';
        message.textContent = '';
        drawStations();
      } catch (e) {
        message.textContent = `Not registered: ${e.message}`;
        message.className = 'form-message error-text';
      }
    } },
    h('h3', {}, 'Register a station'),
    h('p', { class: 'help' }, 'Registering lets a charger in when the server refuses unknown stations; you can do it before the charger first connects.'),
    h('div', { class: 'inline-fields' },
      h('label', { for: 'reg-station' }, 'Charging Station ID (chargeBoxId)'), station,
      h('label', { for: 'reg-site' }, 'Site'), regSite,
      h('button', { type: 'submit', class: 'btn' }, 'Register')),
    message);
  }

  await drawSites();
  await drawStations();
  return () => abort.abort();
}
