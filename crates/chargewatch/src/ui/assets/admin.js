// Administration: every site's log level (applied at once) and id-tag masking, new sites, and
// which site each station belongs to. For admins also: clients, user accounts, id tags and the
// log pipeline's statistics (operators see only their own client's sites and stations).

import { api, sites as loadSites, forgetSites, enc, isAdmin, currentUser } from './api.js';
import { h, replace, errorBox, loading, toast, badge, timeEl } from './dom.js';

const LEVELS = [
  ['none', 'None', 'Nothing is kept.'],
  ['info', 'Info', 'Authorize, BootNotification, Start/StopTransaction, StatusNotification, every CALLERROR, connects and disconnects.'],
  ['debug', 'Debug', 'Every frame of every action (Heartbeat, MeterValues, commands…).'],
];

const TAG_STATUSES = ['Accepted', 'Blocked', 'Expired', 'Invalid'];

export async function render(container) {
  const abort = new AbortController();
  const admin = isAdmin();
  const me = currentUser();
  const sitesBox = h('div', {}, loading('Loading sites…'));
  const stationsBox = h('div', {}, loading('Loading stations…'));
  const clientsBox = h('div', {}, loading('Loading clients…'));
  const usersBox = h('div', {}, loading('Loading users…'));
  const tagsBox = h('div', {}, loading('Loading id tags…'));
  const statsBox = h('div', {}, loading('Loading statistics…'));
  let sites = [];
  let clients = [];
  const regSite = h('select', { id: 'reg-site' }, h('option', { value: '' }, '— no site —'));
  const nsClient = h('select', { id: 'ns-client', name: 'client_id' }, h('option', { value: '' }, '— no client —'));
  const nuClient = h('select', { id: 'nu-client', name: 'client_id' });

  replace(container,
    h('div', { class: 'page-head' }, h('h1', {}, 'Administration'),
      h('div', { class: 'toolbar' }, h('a', { class: 'btn', href: '#/audit' }, 'Audit trail'))),
    admin ? null : h('p', { class: 'notice', id: 'operator-scope' }, `You manage the sites of client ${me?.client_id || '—'}. `,
      'Clients, user accounts and id tags are managed by an admin.'),
    h('h2', { class: 'section-title' }, 'Log levels'),
    h('p', { class: 'help' }, 'Each site has a log level. A change applies to the next frame of every station of the site, without any charger reconnecting. Stations without a site are logged at the default level (info).'),
    h('dl', { class: 'levels-legend' }, LEVELS.map(([, label, text]) => [h('dt', {}, label), h('dd', {}, text)])),
    h('section', { class: 'card', id: 'sites-section' }, h('h2', {}, 'Sites'),
      h('p', { class: 'help' }, '“Mask id tags” replaces the idTags in the site\'s logged payloads (privacy).'),
      sitesBox, newSiteForm()),
    h('section', { class: 'card' }, h('h2', {}, 'Stations and their sites'), stationsBox, registerForm()),
    admin ? [
      h('section', { class: 'card', id: 'clients-section' }, h('h2', {}, 'Clients'),
        h('p', { class: 'help' }, 'A client owns sites; its operators see only those sites, their stations and their logs.'),
        clientsBox, newClientForm()),
      h('section', { class: 'card', id: 'users-section' }, h('h2', {}, 'Users'), usersBox, newUserForm()),
      h('section', { class: 'card', id: 'id-tags-section' }, h('h2', {}, 'Id tags'),
        h('p', { class: 'help' }, 'How the central system answers Authorize and StartTransaction for each idTag.'),
        tagsBox, idTagForm()),
      h('section', { class: 'card', id: 'pipeline-section' }, h('h2', {}, 'Log pipeline'),
        h('div', { class: 'toolbar' }, h('button', { type: 'button', class: 'btn btn-small', onclick: drawStats }, 'Refresh')),
        statsBox),
    ] : null);

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
    const clientName = (id) => clients.find((c) => c.id === id)?.name || id;
    replace(sitesBox, h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'sites-table' },
      h('thead', {}, h('tr', {}, ['Site', 'Id', admin ? 'Client' : null, 'Log level', 'Id tags', ''].filter(Boolean).map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, sites.map((s) => h('tr', { dataset: { site: s.id } },
        h('td', {}, s.name), h('td', {}, h('code', {}, s.id)),
        admin ? h('td', { class: 'site-client' }, s.client_id ? clientName(s.client_id) : h('span', { class: 'muted' }, 'none')) : null,
        h('td', {}, levelPicker(s)),
        h('td', {}, maskToggle(s)),
        h('td', {}, h('a', { href: `#/logs?site_id=${enc(s.id)}` }, 'Logs'))))))));
  }

  function maskToggle(site) {
    const id = `mask-${site.id}`;
    const status = h('span', { class: 'save-state', role: 'status' });
    const box = h('input', { type: 'checkbox', id, checked: !!site.mask_id_tags, dataset: { site: site.id } });
    box.addEventListener('change', async () => {
      const want = box.checked;
      status.textContent = 'Saving…';
      status.className = 'save-state saving';
      try {
        const updated = await api(`/api/v1/sites/${enc(site.id)}`, { method: 'PATCH', body: { mask_id_tags: want }, signal: abort.signal });
        forgetSites();
        box.checked = !!updated.mask_id_tags;
        status.textContent = updated.mask_id_tags ? 'Masked' : 'Shown';
        status.className = 'save-state saved';
      } catch (e) {
        if (e.name === 'AbortError') return;
        box.checked = !want;
        status.textContent = `Not saved: ${e.message}`;
        status.className = 'save-state failed';
      }
    });
    return h('span', { class: 'check' }, box, h('label', { for: id }, 'Mask'), status);
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
    const mask = h('input', { id: 'ns-mask', name: 'mask_id_tags', type: 'checkbox' });
    const message = h('p', { class: 'form-message', role: 'status' });
    name.addEventListener('input', () => {
      if (!id.dataset.touched) id.value = name.value.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
    });
    id.addEventListener('input', () => { id.dataset.touched = '1'; });
    return h('form', { class: 'inline-form', id: 'new-site', onsubmit: async (ev) => {
      ev.preventDefault();
      if (!ev.target.reportValidity()) return;
      try {
        const body = { id: id.value.trim(), name: name.value.trim(), log_level: level.value, mask_id_tags: mask.checked };
        // An operator's sites always belong to their own client (the server fills it in).
        if (admin && nsClient.value) body.client_id = nsClient.value;
        await api('/api/v1/sites', { method: 'POST', body, signal: abort.signal });
        toast(`Site ${name.value.trim()} created.`);
        ev.target.reset();
        delete id.dataset.touched;
        message.textContent = '';
        await drawSites();
        drawStations();
        if (admin) drawClients();
      } catch (e) {
        if (e.name === 'AbortError') return;
        message.textContent = `Not created: ${e.message}`;
        message.className = 'form-message error-text';
      }
    } },
    h('h3', {}, 'New site'),
    h('div', { class: 'inline-fields' },
      h('label', { for: 'ns-name' }, 'Name'), name,
      h('label', { for: 'ns-id' }, 'Id'), id,
      h('label', { for: 'ns-level' }, 'Level'), level,
      admin ? [h('label', { for: 'ns-client' }, 'Client'), nsClient] : null,
      h('span', { class: 'check' }, mask, h('label', { for: 'ns-mask' }, 'Mask id tags')),
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

  // ---- admins only: clients, users, id tags, pipeline statistics

  async function loadClients() {
    try {
      clients = await api('/api/v1/clients', { signal: abort.signal });
    } catch (e) {
      if (e.name !== 'AbortError') replace(clientsBox, errorBox(e, async () => { await loadClients(); drawClients(); }));
      return false;
    }
    clients.sort((a, b) => a.name.localeCompare(b.name));
    const options = clients.map((c) => h('option', { value: c.id }, `${c.name} (${c.id})`));
    const keepNs = nsClient.value;
    const keepNu = nuClient.value;
    replace(nsClient, h('option', { value: '' }, '— no client —'), options.map((o) => o.cloneNode(true)));
    replace(nuClient, clients.length ? null : h('option', { value: '' }, '— create a client first —'), options);
    nsClient.value = keepNs;
    if (keepNu) nuClient.value = keepNu;
    return true;
  }

  function drawClients() {
    if (!clients.length) {
      replace(clientsBox, h('p', { class: 'empty' }, 'No clients yet. Create one below, then give it sites and operators.'));
      return;
    }
    replace(clientsBox, h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'clients-table' },
      h('thead', {}, h('tr', {}, ['Client', 'Id', 'Sites'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, clients.map((c) => {
        const own = sites.filter((s) => s.client_id === c.id);
        return h('tr', { dataset: { client: c.id } },
          h('td', {}, c.name), h('td', {}, h('code', {}, c.id)),
          h('td', {}, own.length ? own.map((s) => s.name).join(', ') : h('span', { class: 'muted' }, 'none yet')));
      })))));
  }

  function newClientForm() {
    const id = h('input', { id: 'nc-id', name: 'id', required: true, pattern: '[A-Za-z0-9_-]{1,64}', placeholder: 'acme', autocomplete: 'off' });
    const name = h('input', { id: 'nc-name', name: 'name', required: true, maxlength: 200, placeholder: 'ACME Charging' });
    const message = h('p', { class: 'form-message', role: 'status' });
    name.addEventListener('input', () => {
      if (!id.dataset.touched) id.value = name.value.trim().toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 64);
    });
    id.addEventListener('input', () => { id.dataset.touched = '1'; });
    return h('form', { class: 'inline-form', id: 'new-client', onsubmit: async (ev) => {
      ev.preventDefault();
      if (!ev.target.reportValidity()) return;
      try {
        const c = await api('/api/v1/clients', { method: 'POST', body: { id: id.value.trim(), name: name.value.trim() }, signal: abort.signal });
        toast(`Client ${c.name} created.`);
        ev.target.reset();
        delete id.dataset.touched;
        message.textContent = '';
        message.className = 'form-message';
        await loadClients();
        drawClients();
        drawSites();
      } catch (e) {
        if (e.name === 'AbortError') return;
        message.textContent = `Not created: ${e.message}`;
        message.className = 'form-message error-text';
      }
    } },
    h('h3', {}, 'New client'),
    h('div', { class: 'inline-fields' },
      h('label', { for: 'nc-name' }, 'Name'), name,
      h('label', { for: 'nc-id' }, 'Id'), id,
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create client')),
    message);
  }

  async function drawUsers() {
    let users;
    try {
      users = await api('/api/v1/users', { signal: abort.signal });
    } catch (e) {
      if (e.name !== 'AbortError') replace(usersBox, errorBox(e, drawUsers));
      return;
    }
    if (!users.length) {
      replace(usersBox, h('p', { class: 'empty' }, 'No user accounts yet. Until there are, only the admin token signs in.'));
      return;
    }
    users.sort((a, b) => a.username.localeCompare(b.username));
    const clientName = (id) => clients.find((c) => c.id === id)?.name || id;
    replace(usersBox, h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'users-table' },
      h('thead', {}, h('tr', {}, ['User', 'Role', 'Client', 'State', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, users.map((u) => h('tr', { dataset: { user: u.username }, class: u.disabled ? 'disabled-row' : null },
        h('td', {}, u.username),
        h('td', {}, badge(u.role, u.role === 'admin' ? 'role-admin' : 'role-operator')),
        h('td', {}, u.client_id ? clientName(u.client_id) : h('span', { class: 'muted' }, '—')),
        h('td', { class: 'user-state' }, u.disabled ? badge('disabled', 'off') : badge('active', 'ok')),
        h('td', {}, u.disabled ? null : disableButton(u))))))));
  }

  /** Disabling takes two clicks (no modal dialog). */
  function disableButton(u) {
    const button = h('button', { type: 'button', class: 'btn btn-small', dataset: { disable: u.username } }, 'Disable');
    let armed = false;
    let timer = 0;
    button.addEventListener('click', async () => {
      if (!armed) {
        armed = true;
        button.textContent = `Really disable ${u.username}?`;
        button.classList.add('btn-danger');
        timer = setTimeout(() => {
          armed = false;
          button.textContent = 'Disable';
          button.classList.remove('btn-danger');
        }, 5000);
        return;
      }
      clearTimeout(timer);
      button.disabled = true;
      try {
        await api(`/api/v1/users/${enc(u.id)}`, { method: 'DELETE', signal: abort.signal });
        toast(`${u.username} can no longer sign in; their tokens stop working.`);
        drawUsers();
      } catch (e) {
        if (e.name === 'AbortError') return;
        button.disabled = false;
        toast(`Not disabled: ${e.message}`, 'error');
      }
    });
    return button;
  }

  function newUserForm() {
    const username = h('input', { id: 'nu-username', name: 'username', required: true, maxlength: 64, autocomplete: 'off', spellcheck: 'false' });
    const password = h('input', { id: 'nu-password', name: 'password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password', 'aria-describedby': 'nu-password-help' });
    const role = h('select', { id: 'nu-role', name: 'role' }, h('option', { value: 'operator', selected: true }, 'Operator of a client'), h('option', { value: 'admin' }, 'Admin (everything)'));
    const clientField = h('span', { class: 'field-pair' }, h('label', { for: 'nu-client' }, 'Client'), nuClient);
    role.addEventListener('change', () => { clientField.hidden = role.value !== 'operator'; });
    const message = h('p', { class: 'form-message', role: 'status' });
    return h('form', { class: 'inline-form', id: 'new-user', onsubmit: async (ev) => {
      ev.preventDefault();
      if (!ev.target.reportValidity()) return;
      const body = { username: username.value.trim(), password: password.value, role: role.value, client_id: role.value === 'operator' ? nuClient.value || null : null };
      if (body.role === 'operator' && !body.client_id) {
        message.textContent = 'Choose the client this operator works for (create a client first).';
        message.className = 'form-message error-text';
        return;
      }
      try {
        const u = await api('/api/v1/users', { method: 'POST', body, signal: abort.signal });
        toast(`User ${u.username} created.`);
        ev.target.reset();
        clientField.hidden = false;
        message.textContent = '';
        message.className = 'form-message';
        drawUsers();
      } catch (e) {
        if (e.name === 'AbortError') return;
        message.textContent = `Not created: ${e.message}`;
        message.className = 'form-message error-text';
      }
    } },
    h('h3', {}, 'New user'),
    h('div', { class: 'inline-fields' },
      h('label', { for: 'nu-username' }, 'User name'), username,
      h('label', { for: 'nu-password' }, 'Password'), password,
      h('label', { for: 'nu-role' }, 'Role'), role,
      clientField,
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create user')),
    h('p', { id: 'nu-password-help', class: 'help' }, 'At least 12 characters. Tell the user their password through a safe channel.'),
    message);
  }

  async function drawTags() {
    let tags;
    try {
      tags = await api('/api/v1/id-tags', { signal: abort.signal });
    } catch (e) {
      if (e.name !== 'AbortError') replace(tagsBox, errorBox(e, drawTags));
      return;
    }
    if (!tags.length) {
      replace(tagsBox, h('p', { class: 'empty' }, 'No id tags yet. Unknown idTags are answered Invalid.'));
      return;
    }
    tags.sort((a, b) => a.id_tag.localeCompare(b.id_tag));
    replace(tagsBox, h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'id-tags-table' },
      h('thead', {}, h('tr', {}, ['idTag', 'Status', 'Expires', 'Parent idTag'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, tags.map((t) => h('tr', { dataset: { tag: t.id_tag } },
        h('td', {}, h('code', {}, t.id_tag)),
        h('td', {}, badge(t.status, t.status === 'Accepted' ? 'ok' : 'warn')),
        h('td', {}, t.expiry_date ? timeEl(t.expiry_date, true) : h('span', { class: 'muted' }, 'never')),
        h('td', {}, t.parent_id_tag || h('span', { class: 'muted' }, '—'))))))));
  }

  function idTagForm() {
    const tag = h('input', { id: 'tag-id', name: 'id_tag', required: true, maxlength: 20, autocomplete: 'off', spellcheck: 'false', placeholder: 'ABC12345' });
    const status = h('select', { id: 'tag-status', name: 'status' }, TAG_STATUSES.map((s) => h('option', { value: s }, s)));
    const expiry = h('input', { id: 'tag-expiry', name: 'expiry_date', type: 'date' });
    const parent = h('input', { id: 'tag-parent', name: 'parent_id_tag', maxlength: 20, autocomplete: 'off' });
    const message = h('p', { class: 'form-message', role: 'status' });
    return h('form', { class: 'inline-form', id: 'id-tag-form', onsubmit: async (ev) => {
      ev.preventDefault();
      if (!ev.target.reportValidity()) return;
      const body = { status: status.value };
      if (expiry.value) body.expiry_date = `${expiry.value}T23:59:59Z`;
      if (parent.value.trim()) body.parent_id_tag = parent.value.trim();
      try {
        await api(`/api/v1/id-tags/${enc(tag.value.trim())}`, { method: 'PUT', body, signal: abort.signal });
        toast(`idTag ${tag.value.trim()} saved as ${status.value}.`);
        ev.target.reset();
        message.textContent = '';
        message.className = 'form-message';
        drawTags();
      } catch (e) {
        if (e.name === 'AbortError') return;
        message.textContent = `Not saved: ${e.message}`;
        message.className = 'form-message error-text';
      }
    } },
    h('h3', {}, 'Add or change an id tag'),
    h('div', { class: 'inline-fields' },
      h('label', { for: 'tag-id' }, 'idTag'), tag,
      h('label', { for: 'tag-status' }, 'Status'), status,
      h('label', { for: 'tag-expiry' }, 'Expires (UTC, optional)'), expiry,
      h('label', { for: 'tag-parent' }, 'Parent idTag'), parent,
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save id tag')),
    message);
  }

  async function drawStats() {
    let stats;
    try {
      stats = await api('/api/v1/logs/stats', { signal: abort.signal });
    } catch (e) {
      if (e.name !== 'AbortError') replace(statsBox, errorBox(e, drawStats));
      return;
    }
    const groups = Object.entries(stats || {}).filter(([, v]) => v && typeof v === 'object');
    replace(statsBox, h('div', { class: 'grid-2', id: 'pipeline-stats' }, groups.map(([group, values]) =>
      h('div', {}, h('h3', {}, group === 'pipeline' ? 'Since the server started' : group === 'store' ? 'Log store' : group),
        h('dl', { class: 'facts' }, flatten(values).map(([k, v]) => [h('dt', {}, k.replace(/_/g, ' ')), h('dd', { class: 'num' }, v)]))))));
  }

  if (admin) await loadClients();
  await drawSites();
  await drawStations();
  if (admin) {
    drawClients();
    drawUsers();
    drawTags();
    drawStats();
  }
  return () => abort.abort();
}

/** [["a.b", "1 234"], …] of a nested object of numbers and strings. */
function flatten(obj, prefix = '') {
  const out = [];
  for (const [k, v] of Object.entries(obj)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...flatten(v, name));
    else out.push([name, typeof v === 'number' ? v.toLocaleString('en-US') : Array.isArray(v) ? v.join(', ') : String(v ?? '—')]);
  }
  return out;
}
