// A station's "profile state": what the central system knows from the OCPP 1.6 feature profiles
// (configuration keys, availability, local authorization list, reservations, charging profiles,
// composite schedules, firmware and diagnostics jobs, TriggerMessage results), as tables.
//
// Reads GET /api/v1/stations/{id}/profile-state (everything at once); when a server lacks it,
// each part's own endpoint; a part that does not exist either is shown as "not available".

import { api, fetchBlob, enc } from './api.js';
import { h, replace, timeEl, badge, loading, errorBox, pretty, toast, download } from './dom.js';

/** The parts, in the order shown: [key in profile-state, endpoint, title]. */
export const PARTS = [
  ['configuration', 'configuration', 'Configuration keys'],
  ['availability', 'availability', 'Availability'],
  ['local_list', 'local-list', 'Local authorization list'],
  ['reservations', 'reservations', 'Reservations'],
  ['charging_profiles', 'charging-profiles', 'Charging profiles'],
  ['composite_schedules', 'composite-schedules', 'Composite schedules'],
  ['firmware_jobs', 'firmware-jobs', 'Firmware updates'],
  ['diagnostics_jobs', 'diagnostics-jobs', 'Diagnostics'],
  ['triggers', 'triggers', 'TriggerMessage results'],
];

/** Marks a part the server does not offer. */
const NOT_AVAILABLE = Symbol('not available');

const muted = (text = '—') => h('span', { class: 'muted' }, text);
const val = (v) => (v === null || v === undefined || v === '' ? muted() : typeof v === 'object' ? h('code', { class: 'small' }, JSON.stringify(v)) : String(v));
const when = (v) => (v ? timeEl(v, true) : muted());
const yesNo = (v) => (v === true ? 'yes' : v === false ? 'no' : muted());

function statusBadge(status) {
  if (!status) return muted();
  const s = String(status);
  const kind = /^(Accepted|Installed|Uploaded|Downloaded|Available|Operative|Used|Scheduled|Active)$/i.test(s) ? 'ok'
    : /(Failed|Rejected|Faulted|Error|NotSupported|Cancel|Expired|Inoperative|Unavailable|Invalid|Blocked)/i.test(s) ? 'bad'
      : 'warn';
  return badge(s, kind);
}

/** A table: columns are [label, row → cell, {num}]. */
function table(id, rows, columns) {
  return h('div', { class: 'table-scroll' }, h('table', { class: 'data-table profile-table', id },
    h('thead', {}, h('tr', {}, columns.map(([label]) => h('th', { scope: 'col' }, label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map(([, cell, opts]) => h('td', { class: opts?.num ? 'num' : null }, cell(r))))))));
}

/** A table of any array of objects (for parts this page does not know yet). */
function genericTable(id, rows) {
  const keys = [...new Set(rows.flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : [])))];
  if (!keys.length) return h('ul', {}, rows.map((r) => h('li', {}, val(r))));
  return table(id, rows, keys.map((k) => [k.replace(/_/g, ' '), (r) => {
    const v = r[k];
    if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) return when(v);
    if (typeof v === 'boolean') return yesNo(v);
    if (v && typeof v === 'object') return jsonDetails('show', v);
    return val(v);
  }]));
}

function jsonDetails(summary, value) {
  if (value === null || value === undefined) return muted();
  return h('details', { class: 'small' }, h('summary', {}, summary), h('pre', { class: 'payload small' }, pretty(value)));
}

/** A job's status history ([{status, at}, …] or whatever the server keeps). */
function historyCell(history) {
  if (!Array.isArray(history) || !history.length) return history && typeof history === 'object' && Object.keys(history).length ? jsonDetails('history', history) : muted();
  return h('details', { class: 'small' }, h('summary', {}, `${history.length} step${history.length === 1 ? '' : 's'}`),
    h('ol', { class: 'history' }, history.map((x) => h('li', {},
      x && typeof x === 'object' ? [x.at ? [timeEl(x.at, true), ' '] : null, x.status ?? JSON.stringify(x)] : String(x)))));
}

function size(n) {
  if (typeof n !== 'number') return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** A download button for an uploaded diagnostics file: fetched with the token, saved from a Blob. */
function fileButton(stationId, job) {
  const f = job.file;
  if (!f) return job.file_name ? [h('code', { class: 'small' }, job.file_name), ' ', muted('(not uploaded)')] : muted('none');
  const path = f.download_path || `/api/v1/stations/${enc(stationId)}/diagnostics/${enc(job.id)}/file`;
  const name = f.file_name || job.file_name || `diagnostics-${job.id}`;
  const button = h('button', { type: 'button', class: 'btn btn-small diag-download', dataset: { job: job.id } }, `Download ${name}`);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const blob = await fetchBlob(path);
      download(blob, name);
      toast(`Downloaded ${name} (${size(blob.size)}).`);
    } catch (e) {
      toast(`Download failed: ${e.message}`, 'error');
    } finally {
      button.disabled = false;
    }
  });
  return [button, ' ', h('span', { class: 'muted small', title: f.sha256 ? `SHA-256 ${f.sha256}` : null }, size(f.size)),
    f.received_at ? [' ', muted('received '), when(f.received_at)] : null];
}

function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

const RENDER = {
  configuration: (rows) => table('profile-configuration', rows.slice().sort((a, b) => String(a.key).localeCompare(String(b.key))), [
    ['Key', (r) => [h('code', {}, r.key), r.known === false ? [' ', badge('unknown to the station', 'warn')] : null]],
    ['Value', (r) => (r.value === null || r.value === undefined ? muted() : h('span', { class: 'cfg-value' }, r.value))],
    ['Read-only', (r) => yesNo(r.readonly)],
    ['Source', (r) => val(r.source)],
    ['Change status', (r) => (r.change_status ? statusBadge(r.change_status) : muted())],
    ['Updated', (r) => when(r.updated_at)],
  ]),
  availability: (rows) => table('profile-availability', rows.slice().sort((a, b) => a.connector_id - b.connector_id), [
    ['Connector', (r) => (r.connector_id === 0 ? '0 (station)' : r.connector_id), { num: true }],
    ['Requested', (r) => val(r.type ?? r.kind)],
    ['Answer', (r) => statusBadge(r.status)],
    ['Updated', (r) => when(r.updated_at)],
  ]),
  local_list: (list) => {
    if (!list || typeof list !== 'object' || Array.isArray(list)) return genericTable('profile-local-list', [].concat(list || []));
    const entries = Array.isArray(list.entries) ? list.entries : [];
    return [
      facts([
        ['Version sent', list.sent_version != null ? [String(list.sent_version), list.sent_update_type ? ` (${list.sent_update_type})` : '', list.sent_at ? [' at ', when(list.sent_at)] : ''] : muted('never sent')],
        ['Last SendLocalList', list.last_send_status ? [statusBadge(list.last_send_status), list.last_send_version != null ? ` version ${list.last_send_version}` : '', list.last_send_at ? [' at ', when(list.last_send_at)] : ''] : muted()],
        ['Version reported by the station', list.reported_version != null ? [String(list.reported_version), list.reported_at ? [' at ', when(list.reported_at)] : ''] : muted('not asked (GetLocalListVersion)')],
        ['Entries', String(entries.length)],
      ]),
      entries.length ? table('profile-local-list', entries, [
        ['idTag', (r) => h('code', {}, r.id_tag)],
        ['Status', (r) => statusBadge(r.status)],
        ['Expires', (r) => when(r.expiry_date)],
        ['Parent idTag', (r) => val(r.parent_id_tag)],
        ['Updated', (r) => when(r.updated_at)],
      ]) : null,
    ];
  },
  reservations: (rows) => table('profile-reservations', rows, [
    ['Id', (r) => r.reservation_id, { num: true }],
    ['Connector', (r) => r.connector_id, { num: true }],
    ['idTag', (r) => [h('code', {}, r.id_tag), r.parent_id_tag ? [' ', muted(`(parent ${r.parent_id_tag})`)] : null]],
    ['Expires', (r) => when(r.expiry_date)],
    ['Outcome', (r) => statusBadge(r.outcome)],
    ['Transaction', (r) => val(r.transaction_id)],
    ['Made', (r) => when(r.created_at)],
  ]),
  charging_profiles: (rows) => table('profile-charging-profiles', rows, [
    ['Profile id', (r) => r.charging_profile_id, { num: true }],
    ['Connector', (r) => r.connector_id, { num: true }],
    ['Stack level', (r) => r.stack_level, { num: true }],
    ['Purpose', (r) => val(r.purpose)],
    ['Kind', (r) => val(r.kind)],
    ['Transaction', (r) => val(r.transaction_id)],
    ['Valid', (r) => (r.valid_from || r.valid_to ? [when(r.valid_from), ' – ', when(r.valid_to)] : muted('always'))],
    ['Set', (r) => when(r.set_at)],
    ['Profile', (r) => jsonDetails('as sent', r.profile)],
  ]),
  composite_schedules: (rows) => table('profile-composite-schedules', rows, [
    ['Connector', (r) => r.connector_id, { num: true }],
    ['Start', (r) => when(r.schedule_start)],
    ['Duration', (r) => (r.duration != null ? `${r.duration} s` : muted())],
    ['Unit', (r) => val(r.charging_rate_unit)],
    ['Periods', (r) => periods(r.charging_schedule)],
    ['Received', (r) => when(r.received_at)],
  ]),
  firmware_jobs: (rows) => table('profile-firmware-jobs', rows, [
    ['Job', (r) => r.id, { num: true }],
    ['Location', (r) => h('code', { class: 'small wrap' }, r.location)],
    ['Retrieve at', (r) => when(r.retrieve_date)],
    ['Status', (r) => [statusBadge(r.status), r.finished ? '' : [' ', muted('(running)')]]],
    ['History', (r) => historyCell(r.history)],
    ['Started', (r) => when(r.created_at)],
    ['Finished', (r) => when(r.finished_at)],
  ]),
  diagnostics_jobs: (rows, stationId) => table('profile-diagnostics-jobs', rows, [
    ['Job', (r) => r.id, { num: true }],
    ['Upload to', (r) => h('code', { class: 'small wrap' }, r.location)],
    ['Period', (r) => (r.start_time || r.stop_time ? [when(r.start_time), ' – ', when(r.stop_time)] : muted('all'))],
    ['Status', (r) => [statusBadge(r.status), r.finished ? '' : [' ', muted('(running)')]]],
    ['File', (r) => fileButton(stationId, r)],
    ['History', (r) => historyCell(r.history)],
    ['Started', (r) => when(r.created_at)],
  ]),
  triggers: (rows) => table('profile-triggers', rows, [
    ['Requested message', (r) => val(r.requested_message)],
    ['Connector', (r) => val(r.connector_id)],
    ['Answer', (r) => statusBadge(r.status)],
    ['When', (r) => when(r.at)],
  ]),
};

/** A charging schedule's periods as a small list ("from 0 s: 16 A, 3 phases"). */
function periods(schedule) {
  const list = schedule && Array.isArray(schedule.chargingSchedulePeriod) ? schedule.chargingSchedulePeriod : null;
  if (!list) return jsonDetails('schedule', schedule);
  const unit = schedule.chargingRateUnit || '';
  return h('ul', { class: 'periods' }, list.map((p) => h('li', {},
    `from ${p.startPeriod} s: ${p.limit} ${unit}${p.numberPhases ? `, ${p.numberPhases} phase${p.numberPhases === 1 ? '' : 's'}` : ''}`)));
}

function isEmpty(value) {
  if (value === null || value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') {
    // A local list with nothing sent, reported or stored is empty too.
    if ('entries' in value) return !value.entries?.length && value.sent_version == null && value.reported_version == null && !value.last_send_status;
    return Object.keys(value).length === 0;
  }
  return false;
}

const EMPTY_TEXT = {
  configuration: 'No configuration known yet. Send GetConfiguration (or ChangeConfiguration) from the command console.',
  availability: 'No ChangeAvailability sent yet.',
  local_list: 'No local list sent or reported yet.',
  reservations: 'No reservations.',
  charging_profiles: 'No charging profiles set.',
  composite_schedules: 'No composite schedule received yet (GetCompositeSchedule).',
  firmware_jobs: 'No firmware update requested yet.',
  diagnostics_jobs: 'No diagnostics requested yet (GetDiagnostics).',
  triggers: 'No TriggerMessage sent yet.',
};

async function loadParts(stationId, signal) {
  const base = `/api/v1/stations/${enc(stationId)}`;
  try {
    const all = await api(`${base}/profile-state`, { signal });
    const out = {};
    for (const [key] of PARTS) out[key] = key in (all || {}) ? all[key] : NOT_AVAILABLE;
    // Parts this page does not know yet are shown too.
    for (const [key, v] of Object.entries(all || {})) if (!(key in out) && key !== 'station_id') out[key] = v;
    return out;
  } catch (e) {
    if (e.status !== 404 && e.status !== 405) throw e;
  }
  // No combined endpoint: ask each part.
  const entries = await Promise.all(PARTS.map(async ([key, path]) => {
    try {
      return [key, await api(`${base}/${path}`, { signal })];
    } catch (e) {
      if (e.status === 404 || e.status === 405) return [key, NOT_AVAILABLE];
      if (e.name === 'AbortError') throw e;
      return [key, e];
    }
  }));
  return Object.fromEntries(entries);
}

function titleOf(key) {
  return PARTS.find(([k]) => k === key)?.[2] || key.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

function countOf(value) {
  if (Array.isArray(value)) return value.length;
  if (value && typeof value === 'object' && Array.isArray(value.entries)) return value.entries.length;
  return null;
}

/** The "Profile state" card of a station page; loads itself. */
export function profileSection(stationId, signal) {
  const box = h('div', { id: 'profile-state' }, loading('Loading profile state…'));
  const section = h('section', { class: 'card', id: 'profile-section' },
    h('div', { class: 'section-head' }, h('h2', {}, 'Profile state'),
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => load() }, 'Refresh')),
    h('p', { class: 'help' }, 'What Chargewatch knows from the commands it sent to this station and the answers it got (OCPP 1.6 feature profiles).'),
    box);

  async function load() {
    let parts;
    try {
      parts = await loadParts(stationId, signal);
    } catch (e) {
      if (e.name !== 'AbortError') replace(box, errorBox(e, load));
      return;
    }
    replace(box, Object.entries(parts).map(([key, value]) => {
      const count = countOf(value);
      const head = h('h3', {}, titleOf(key), count !== null && value !== NOT_AVAILABLE ? h('span', { class: 'muted count' }, ` (${count})`) : null);
      let content;
      if (value === NOT_AVAILABLE) content = h('p', { class: 'muted not-available' }, 'Not available on this server.');
      else if (value instanceof Error) content = errorBox(value, load);
      else if (isEmpty(value)) content = h('p', { class: 'muted' }, EMPTY_TEXT[key] || 'Nothing yet.');
      else if (RENDER[key]) {
        try {
          content = RENDER[key](value, stationId);
        } catch (e) {
          console.warn(`profile state: ${key} in an unexpected form`, e);
          content = Array.isArray(value) ? genericTable(`profile-${key}`, value) : jsonDetails('as received', value);
        }
      } else content = Array.isArray(value) ? genericTable(`profile-${key}`, value) : jsonDetails('as received', value);
      return h('div', { class: 'profile-part', dataset: { part: key, state: value === NOT_AVAILABLE ? 'not-available' : 'ok' } }, head, content);
    }));
  }

  load();
  return section;
}
