// The audit trail: who changed a log level, assigned a station, sent a command, created a
// user… newest first. Admins see every entry; an operator sees their own client's entries.

import { api, isAdmin, enc } from './api.js';
import { h, replace, timeEl, badge, errorBox, loading, pretty } from './dom.js';

/** Readable names of the audited actions (unknown ones are shown as they come). */
const ACTIONS = {
  'site.create': 'Created a site',
  'site.update': 'Changed a site',
  'station.assign': 'Assigned a station',
  'station.log_level_override': 'Station log-level override',
  'station.security': 'Changed station security',
  'command.send': 'Sent a command',
  'client.create': 'Created a client',
  'user.create': 'Created a user',
  'user.disable': 'Disabled a user',
  'token.revoke': 'Revoked a token',
  'firmware.upload': 'Uploaded firmware',
  'firmware.delete': 'Deleted firmware',
};

function actionLabel(action) {
  return ACTIONS[action] || action;
}

function show(v) {
  if (v === null || v === undefined || v === '') return 'none';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A one-line description of an entry's detail, e.g. "log level: info → debug". */
export function describe(entry) {
  const d = entry.detail;
  if (!d || typeof d !== 'object') return d == null ? '' : show(d);
  const parts = [];
  for (const [k, v] of Object.entries(d)) {
    const name = k.replace(/_/g, ' ');
    if (v && typeof v === 'object' && !Array.isArray(v) && 'from' in v && 'to' in v) {
      // A change record: only what actually changed.
      if (JSON.stringify(v.from) !== JSON.stringify(v.to)) parts.push(`${name}: ${show(v.from)} → ${show(v.to)}`);
    } else {
      parts.push(`${name}: ${show(v)}`);
    }
  }
  return parts.length ? parts.join('; ') : 'no change';
}

function targetLink(entry) {
  const t = entry.target;
  if (entry.action.startsWith('station.') || entry.action === 'command.send') {
    return h('a', { href: `#/stations/${enc(t)}` }, t);
  }
  if (entry.action.startsWith('site.')) return h('a', { href: `#/logs?site_id=${enc(t)}` }, t);
  return h('code', {}, t);
}

function kindOf(action) {
  if (action === 'command.send') return 'lvl-debug';
  if (action.startsWith('site.') || action.startsWith('station.')) return 'lvl-info';
  if (action.endsWith('.disable') || action.endsWith('.revoke') || action.endsWith('.delete')) return 'warn';
  return '';
}

export async function render(container) {
  const abort = new AbortController();
  const admin = isAdmin();
  const search = h('input', { id: 'audit-search', type: 'search', placeholder: 'User, target, detail…', 'aria-label': 'Search the audit trail' });
  const actionFilter = h('select', { id: 'audit-action', 'aria-label': 'Only this kind of change' }, h('option', { value: '' }, 'All changes'));
  const body = h('div', { class: 'table-area' }, loading('Loading the audit trail…'));
  const updated = h('span', { class: 'muted', role: 'status' });
  let entries = [];

  replace(container,
    h('div', { class: 'page-head' },
      h('h1', {}, 'Audit trail'),
      h('div', { class: 'toolbar' }, search, actionFilter,
        h('button', { type: 'button', class: 'btn', onclick: refresh }, 'Refresh'), updated)),
    h('p', { class: 'help' }, admin
      ? 'Every change made through the API or this UI, newest first (the last 500). Times are UTC.'
      : 'The changes made for your client, newest first (the last 500). Times are UTC.'),
    body);

  function draw() {
    const needle = search.value.trim().toLowerCase();
    const wanted = actionFilter.value;
    const shown = entries.filter((e) => (!wanted || e.action === wanted)
      && (!needle || [e.actor, e.target, e.client_id, e.action, actionLabel(e.action), describe(e)].some((v) => v && String(v).toLowerCase().includes(needle))));
    if (!entries.length) {
      replace(body, h('p', { class: 'empty' }, 'Nothing has been changed yet.'));
      return;
    }
    replace(body, h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'audit-table' },
      h('caption', { class: 'sr-only' }, 'Audit trail, newest first. Times are UTC.'),
      h('thead', {}, h('tr', {}, ['When (UTC)', 'Who', admin ? 'Client' : null, 'What', 'Target', 'Details'].filter(Boolean).map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, shown.map((e) => h('tr', { dataset: { id: e.id, action: e.action } },
        h('td', { class: 'nowrap' }, timeEl(e.at, true)),
        h('td', { class: 'audit-actor' }, e.actor),
        admin ? h('td', {}, e.client_id || h('span', { class: 'muted' }, '—')) : null,
        h('td', {}, badge(actionLabel(e.action), kindOf(e.action)), ' ', h('code', { class: 'muted small' }, e.action)),
        h('td', {}, targetLink(e)),
        h('td', { class: 'audit-detail' }, describe(e),
          e.detail && typeof e.detail === 'object' && Object.keys(e.detail).length
            ? h('details', { class: 'small' }, h('summary', {}, 'as recorded'), h('pre', { class: 'payload small' }, pretty(e.detail)))
            : null)))))),
    shown.length < entries.length ? h('p', { class: 'muted' }, `${entries.length - shown.length} more hidden by the filter.`) : null);
  }

  async function refresh() {
    try {
      const list = await api('/api/v1/audit', { signal: abort.signal });
      entries = list.slice().sort((a, b) => (Date.parse(b.at) - Date.parse(a.at)) || (b.id - a.id));
      const kinds = [...new Set(entries.map((e) => e.action))].sort();
      const keep = actionFilter.value;
      replace(actionFilter, h('option', { value: '' }, 'All changes'), kinds.map((k) => h('option', { value: k, selected: k === keep }, actionLabel(k))));
      updated.textContent = `Updated ${new Date().toISOString().slice(11, 19)} UTC`;
      draw();
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(body, e.status === 404
        ? h('p', { class: 'empty' }, 'This server keeps no audit trail.')
        : errorBox(e, refresh));
    }
  }

  search.addEventListener('input', draw);
  actionFilter.addEventListener('change', draw);
  await refresh();
  return () => abort.abort();
}
