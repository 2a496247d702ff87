// The OCPP Logs page: filters (kept in the URL hash so a link can be shared), the table
// newest first with cursor paging, the live tail, the detail panel and the exports.

import { api, sites as loadSites, fetchBlob } from './api.js';
import { h, replace, fmtTime, toast, download, errorBox } from './dom.js';
import { ACTIONS, EVENTS, MESSAGE_TYPES, STATUSES, CHARGE_POINT_ERRORS, CALL_ERRORS, errorTooltip } from './ocpp.js';
import { follow } from './livetail.js';
import { openDetail, closeDetail, directionText } from './detail.js';

/** The filters of the API, in the order the form shows them. */
const FILTER_KEYS = ['site_id', 'station_id', 'connector_id', 'action', 'status', 'error_code', 'direction', 'message_type', 'from', 'to', 'q'];
const PAGE_SIZE = 100;
/** The table never holds more rows than this while the live tail runs (the oldest go). */
export const MAX_ROWS = 500;
/** The live tail puts at most this many rows into the table per animation frame. */
const FRAME_ROWS = 50;

/** The API filters of the page's query (the hash), without paging. */
function apiParams(query) {
  const p = new URLSearchParams();
  for (const k of FILTER_KEYS) for (const v of query.getAll(k)) if (v.trim()) p.append(k, v.trim());
  return p;
}

/** Sort key of the newest-first order: timestamp, then id (as the store orders). */
function key(item) {
  if (item.key === undefined) {
    Object.defineProperty(item, 'key', { value: `${item.timestamp}|${item.id.replace(/-/g, '')}`, enumerable: false });
  }
  return item.key;
}

/** The cursor that continues strictly after `item` (the API's `<ms>_<uuid>` form). */
function cursorAfter(item) {
  return `${Date.parse(item.timestamp)}_${item.id.replace(/-/g, '')}`;
}

/** datetime-local value (read as UTC) ⇄ RFC 3339. */
function toInputTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 19);
}
function fromInputTime(v) {
  if (!v) return '';
  const d = new Date(v.length === 16 ? `${v}:00Z` : `${v}Z`);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function option(value, label, selected) {
  return h('option', { value, selected }, label ?? value);
}

function arrow(direction) {
  return h('span', { class: `dir dir-${direction}`, title: directionText(direction), 'aria-label': directionText(direction) },
    direction === 'in' ? '→' : '←');
}

const TYPE_SHORT = { CALL: 'req', CALLRESULT: 'res', CALLERROR: 'err', EVENT: 'evt' };

/** One table row. The seven columns of SPEC.md, in order. */
function rowFor(item) {
  const err = item.error_code && item.error_code !== 'NoError';
  const tip = item.error_code ? errorTooltip(item.error_code, item.message_type) : '';
  return h('tr', {
    tabindex: 0, dataset: { id: item.id },
    class: `mt-${item.message_type.toLowerCase()}${err ? ' has-error' : ''}${item.validation_error ? ' invalid' : ''}`,
  },
  h('td', { class: 'ts' }, h('time', { datetime: item.timestamp }, fmtTime(item.timestamp))),
  h('td', { class: 'action' }, arrow(item.direction), ' ', item.action || '', ' ',
    h('span', { class: `mt mt-${item.message_type.toLowerCase()}`, title: item.message_type }, TYPE_SHORT[item.message_type] || item.message_type),
    item.validation_error ? h('span', { class: 'invalid-mark', title: `Validation note: ${item.validation_error}` }, ' ⚠') : null),
  h('td', {}, item.station_id),
  h('td', { class: 'num' }, item.connector_id ?? ''),
  h('td', {}, item.status ? h('span', { class: `status status-${item.status}` }, item.status) : ''),
  h('td', { title: tip || null }, item.error_code
    ? [h('span', { class: err ? 'error-code' : 'muted' }, item.error_code),
      err ? h('span', { class: 'hint-inline' }, tip.replace(/^.*What to do: /, '')) : null]
    : ''),
  h('td', {}, item.site_name || ''));
}

export async function render(container, query) {
  const filters = apiParams(query);
  const abort = new AbortController();
  let tail = null;
  let live = query.get('live') === '1';

  // ---- the filter form
  const f = (name) => query.get(name) || '';
  const siteSelect = h('select', { id: 'f-site', name: 'site_id' }, option('', 'All sites'));
  const stationList = h('datalist', { id: 'station-ids' });
  const selectedActions = new Set(query.getAll('action').flatMap((a) => a.split(',')).filter(Boolean));
  const actionSelect = h('select', { id: 'f-action', name: 'action', multiple: true, size: 7, 'aria-describedby': 'f-action-help' },
    h('optgroup', { label: 'Connection events' }, EVENTS.map((a) => option(a, a, selectedActions.has(a)))),
    h('optgroup', { label: 'OCPP 1.6 actions' }, ACTIONS.map((a) => option(a, a, selectedActions.has(a)))));
  const errorSelect = h('select', { id: 'f-error', name: 'error_code' }, option('', 'Any'),
    h('optgroup', { label: 'Reported by the charger' }, Object.keys(CHARGE_POINT_ERRORS).map((c) => option(c, c, f('error_code') === c))),
    h('optgroup', { label: 'CALLERROR codes' }, Object.keys(CALL_ERRORS).filter((c) => !(c in CHARGE_POINT_ERRORS)).map((c) => option(c, c, f('error_code') === c))));
  const fromInput = h('input', { id: 'f-from', name: 'from', type: 'datetime-local', step: 1, value: toInputTime(f('from')) });
  const toInput = h('input', { id: 'f-to', name: 'to', type: 'datetime-local', step: 1, value: toInputTime(f('to')) });

  function quickRange(label, ms) {
    return h('button', {
      type: 'button', class: 'btn btn-small btn-quiet',
      onclick: () => {
        fromInput.value = toInputTime(new Date(Date.now() - ms).toISOString());
        toInput.value = '';
      },
    }, label);
  }

  const form = h('form', { class: 'filters', id: 'log-filters', onsubmit: apply, 'aria-label': 'Log filters' },
    h('div', { class: 'field' }, h('label', { for: 'f-site' }, 'Site'), siteSelect),
    h('div', { class: 'field' }, h('label', { for: 'f-station' }, 'Charging Station ID'),
      h('input', { id: 'f-station', name: 'station_id', list: 'station-ids', value: f('station_id'), autocomplete: 'off' }), stationList),
    h('div', { class: 'field field-narrow' }, h('label', { for: 'f-connector' }, 'Charging Point ID'),
      h('input', { id: 'f-connector', name: 'connector_id', type: 'number', min: 0, step: 1, inputmode: 'numeric', value: f('connector_id') })),
    h('div', { class: 'field field-tall' }, h('label', { for: 'f-action' }, 'Action'), actionSelect,
      h('p', { id: 'f-action-help', class: 'help' }, 'Ctrl/⌘-click or Shift+arrows to choose several. ',
        h('button', { type: 'button', class: 'linkish', onclick: () => { for (const o of actionSelect.options) o.selected = false; } }, 'Clear'))),
    h('div', { class: 'field' }, h('label', { for: 'f-status' }, 'Status'),
      h('input', { id: 'f-status', name: 'status', list: 'statuses', value: f('status'), autocomplete: 'off' }),
      h('datalist', { id: 'statuses' }, STATUSES.map((s) => option(s)))),
    h('div', { class: 'field' }, h('label', { for: 'f-error' }, 'Error Code'), errorSelect),
    h('div', { class: 'field' }, h('label', { for: 'f-direction' }, 'Direction'),
      h('select', { id: 'f-direction', name: 'direction' }, option('', 'Both'),
        option('in', 'in: charger → central system', f('direction') === 'in'),
        option('out', 'out: central system → charger', f('direction') === 'out'))),
    h('div', { class: 'field' }, h('label', { for: 'f-type' }, 'Message type'),
      h('select', { id: 'f-type', name: 'message_type' }, option('', 'Any'), MESSAGE_TYPES.map((m) => option(m, m, f('message_type') === m)))),
    h('div', { class: 'field' }, h('label', { for: 'f-from' }, 'From (UTC)'), fromInput,
      h('div', { class: 'quick' }, quickRange('15 min', 15 * 60_000), quickRange('1 h', 3600_000), quickRange('24 h', 86400_000), quickRange('7 d', 7 * 86400_000))),
    h('div', { class: 'field' }, h('label', { for: 'f-to' }, 'To (UTC)'), toInput),
    h('div', { class: 'field field-wide' }, h('label', { for: 'f-q' }, 'Text in payload'),
      h('input', { id: 'f-q', name: 'q', type: 'search', value: f('q'), placeholder: 'e.g. an idTag, a vendorErrorCode' })),
    h('div', { class: 'field field-buttons' },
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply filters'),
      h('a', { class: 'btn', href: live ? '#/logs?live=1' : '#/logs' }, 'Clear')));

  function apply(ev) {
    ev.preventDefault();
    const p = new URLSearchParams();
    const data = new FormData(form);
    for (const k of FILTER_KEYS) {
      for (let v of data.getAll(k)) {
        v = String(v).trim();
        if (k === 'from' || k === 'to') v = fromInputTime(v);
        if (v) p.append(k, v);
      }
    }
    if (live) p.set('live', '1');
    const target = `#/logs${p.toString() ? `?${p}` : ''}`;
    if (location.hash === target) reload();
    else location.hash = target;
  }

  // ---- toolbar: live tail and exports
  const liveSwitch = h('button', { type: 'button', role: 'switch', class: 'switch', id: 'live-switch', 'aria-checked': String(live), onclick: toggleLive },
    h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })), ' Live tail');
  const liveState = h('span', { class: 'live-state', id: 'live-state', role: 'status' });
  const exportCsv = h('button', { type: 'button', class: 'btn', id: 'export-csv', onclick: () => exportAs('csv', exportCsv) }, 'Export CSV');
  const exportNd = h('button', { type: 'button', class: 'btn', id: 'export-ndjson', onclick: () => exportAs('ndjson', exportNd) }, 'Export NDJSON');

  async function exportAs(format, button) {
    const label = button.textContent;
    button.disabled = true;
    button.textContent = 'Exporting…';
    try {
      const p = new URLSearchParams(filters);
      p.set('format', format);
      const blob = await fetchBlob(`/api/v1/logs/export?${p}`, abort.signal);
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
      download(blob, `ocpp-logs-${stamp}.${format}`);
      toast(`Exported ${format.toUpperCase()} (${Math.ceil(blob.size / 1024)} KiB).`);
    } catch (e) {
      if (e.name !== 'AbortError') toast(`Export failed: ${e.message}`, 'error');
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  // ---- the table
  const tbody = h('tbody', { id: 'log-rows' });
  const table = h('table', { class: 'log-table', id: 'log-table' },
    h('caption', { class: 'sr-only' }, 'OCPP messages, newest first. Times are UTC.'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col', title: 'When the gateway received or sent the frame, UTC' }, 'Timestamp'),
      h('th', { scope: 'col' }, 'Action'),
      h('th', { scope: 'col' }, 'Charging Station ID'),
      h('th', { scope: 'col' }, 'Charging Point ID'),
      h('th', { scope: 'col' }, 'Status'),
      h('th', { scope: 'col' }, 'Error Code'),
      h('th', { scope: 'col' }, 'Site Name'))),
    tbody);
  const summary = h('p', { class: 'summary', id: 'log-summary', 'aria-live': 'polite' });
  const olderButton = h('button', { type: 'button', class: 'btn', id: 'load-older', onclick: loadOlder }, 'Load older');
  const footer = h('div', { class: 'table-footer' }, olderButton);
  const tableArea = h('div', { class: 'table-area' });
  const page = h('div', { class: 'logs-layout' });

  replace(container,
    h('div', { class: 'page-head' },
      h('h1', {}, 'OCPP Logs'),
      h('div', { class: 'toolbar' }, liveSwitch, liveState, exportCsv, exportNd)),
    h('details', { class: 'filter-box', open: true }, h('summary', {}, 'Filters', activeCount(filters)), form),
    summary,
    tableArea,
    page);

  // Rows in display order (newest first), and their elements by id.
  let rows = [];
  const byId = new Map();
  let next = null;
  let loadingOlder = false;
  let lagged = 0;

  function updateSummary() {
    const n = rows.length;
    const parts = [`${n} row${n === 1 ? '' : 's'} shown, newest first; times are UTC.`];
    if (live && n >= MAX_ROWS) parts.push(` The live tail keeps the newest ${MAX_ROWS}.`);
    if (lagged) parts.push(` ${lagged} live rows were skipped because they came faster than the page could read them — use the filters or reload.`);
    summary.textContent = parts.join('');
    olderButton.hidden = !next;
    if (!next && n) {
      if (!footer.querySelector('.end')) footer.append(h('span', { class: 'muted end' }, 'No older rows.'));
    } else footer.querySelector('.end')?.remove();
  }

  function addRow(item, where) {
    const tr = rowFor(item);
    byId.set(item.id, { item, tr });
    if (where === 'append') tbody.append(tr);
    return tr;
  }

  async function reload() {
    closeDetail();
    rows = [];
    byId.clear();
    next = null;
    replace(tbody);
    replace(tableArea, h('p', { class: 'loading', role: 'status' }, 'Loading log rows…'));
    try {
      const p = new URLSearchParams(filters);
      p.set('limit', String(PAGE_SIZE));
      const res = await api(`/api/v1/logs?${p}`, { signal: abort.signal });
      for (const item of res.items) {
        if (byId.has(item.id)) continue;
        rows.push(item);
        addRow(item, 'append');
      }
      next = res.next;
      replace(tableArea, h('div', { class: 'table-scroll' }, table), footer);
      if (!rows.length) tableArea.prepend(h('p', { class: 'empty' }, filters.toString()
        ? 'No rows match these filters. Widen the time range or clear a filter.'
        : 'No OCPP messages yet. When a charger connects to the OCPP endpoint its frames appear here.'));
      updateSummary();
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(tableArea, errorBox(e, reload));
    }
  }

  async function loadOlder() {
    if (!next || loadingOlder) return;
    loadingOlder = true;
    olderButton.disabled = true;
    olderButton.textContent = 'Loading…';
    try {
      const p = new URLSearchParams(filters);
      p.set('limit', String(PAGE_SIZE));
      p.set('cursor', next);
      const res = await api(`/api/v1/logs?${p}`, { signal: abort.signal });
      for (const item of res.items) {
        if (byId.has(item.id)) continue;
        rows.push(item);
        addRow(item, 'append');
      }
      next = res.next;
      updateSummary();
    } catch (e) {
      if (e.name !== 'AbortError') toast(`Could not load older rows: ${e.message}`, 'error');
    } finally {
      loadingOlder = false;
      olderButton.disabled = false;
      olderButton.textContent = 'Load older';
    }
  }

  // ---- live tail: items arrive in `pending` and go into the table once per animation frame,
  // at most FRAME_ROWS of them per frame, so that a burst never blocks the page for long
  let pending = [];
  let frame = 0;

  function enqueue(item) {
    pending.push(item);
    if (pending.length > MAX_ROWS * 4) pending = pending.slice(-MAX_ROWS);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    if (!pending.length) return;
    const all = pending.filter((x) => !byId.has(x.id)).sort((a, b) => (key(a) < key(b) ? 1 : -1)).slice(0, MAX_ROWS);
    // The oldest slice first: the rest is newer and goes on top in the next frames.
    const batch = all.slice(-FRAME_ROWS);
    pending = all.slice(0, -FRAME_ROWS).reverse();
    if (pending.length) frame = requestAnimationFrame(flush);
    if (!batch.length) return;
    const burst = all.length >= 50; // highlight only what the eye can follow
    const seen = new Set();
    const top = rows.length ? key(rows[0]) : '';
    const fresh = document.createDocumentFragment();
    const newer = [];
    let at = 0; // the batch is sorted newest first, so each older item goes at or after the previous one
    for (const item of batch) {
      if (seen.has(item.id)) continue;
      seen.add(item.id);
      const k = key(item);
      if (k > top) {
        newer.push(item);
        const tr = addRow(item);
        if (!burst) tr.classList.add('fresh');
        fresh.append(tr);
        continue;
      }
      // Older than the newest shown row (a late frame, or the gap fill): put it in its place,
      // unless it lies beyond the last loaded row — "Load older" will bring it.
      while (at < rows.length && key(rows[at]) > k) at++;
      if (at === rows.length && next) continue;
      const tr = addRow(item);
      tbody.insertBefore(tr, rows[at] ? byId.get(rows[at].id).tr : null);
      rows.splice(at, 0, item);
      at++;
    }
    if (newer.length) {
      tbody.prepend(fresh);
      rows = newer.concat(rows);
    }
    // Keep the DOM bounded: drop the oldest, and continue "Load older" right after the last kept row.
    if (rows.length > MAX_ROWS) {
      for (const old of rows.splice(MAX_ROWS)) {
        byId.get(old.id)?.tr.remove();
        byId.delete(old.id);
      }
      next = cursorAfter(rows[rows.length - 1]);
    }
    if (rows.length && tableArea.querySelector('.empty')) tableArea.querySelector('.empty').remove();
    updateSummary();
  }

  function setLiveState(state, detail) {
    liveState.className = `live-state live-${state}`;
    liveState.textContent = { connecting: 'Connecting…', live: '● Live', retrying: `Reconnecting… ${detail || ''}`, off: '' }[state] ?? '';
  }

  /** Fetches the newest page to fill the gap between the table and the start of the stream. */
  async function fillGap() {
    try {
      const p = new URLSearchParams(filters);
      p.set('limit', String(MAX_ROWS));
      const res = await api(`/api/v1/logs?${p}`, { signal: abort.signal });
      for (const item of res.items) enqueue(item);
    } catch (e) {
      if (e.name !== 'AbortError') console.warn('gap fill failed', e);
    }
  }

  function startLive() {
    if (tail) return;
    const p = new URLSearchParams(filters);
    tail = follow(`/api/v1/logs/stream?${p}`, {
      onItem: enqueue,
      onLagged: (n) => {
        lagged += n;
        updateSummary();
      },
      onState: setLiveState,
      onOpen: fillGap,
    });
  }

  function stopLive() {
    if (tail) tail.stop();
    tail = null;
    setLiveState('off');
  }

  function toggleLive() {
    live = !live;
    liveSwitch.setAttribute('aria-checked', String(live));
    const p = new URLSearchParams(filters);
    if (live) p.set('live', '1');
    // Keep the URL shareable without re-rendering the page.
    history.replaceState(null, '', `#/logs${p.toString() ? `?${p}` : ''}`);
    if (live) startLive();
    else stopLive();
    updateSummary();
  }

  // ---- opening a row
  function openRow(tr) {
    const entry = tr && byId.get(tr.dataset.id);
    if (!entry) return;
    for (const sel of tbody.querySelectorAll('tr.selected')) sel.classList.remove('selected');
    tr.classList.add('selected');
    openDetail(entry.item, page, tr);
  }
  tbody.addEventListener('click', (ev) => openRow(ev.target.closest('tr')));
  tbody.addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr');
    if (!tr) return;
    if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      openRow(tr);
    } else if (ev.key === 'ArrowDown' && tr.nextElementSibling) {
      ev.preventDefault();
      tr.nextElementSibling.focus();
    } else if (ev.key === 'ArrowUp' && tr.previousElementSibling) {
      ev.preventDefault();
      tr.previousElementSibling.focus();
    }
  });

  // Site and station choices for the filters (the table does not wait for them).
  loadSites().then((list) => {
    for (const s of list) siteSelect.append(option(s.id, s.name, f('site_id') === s.id));
  }).catch(() => {});
  api('/api/v1/stations', { signal: abort.signal }).then((list) => {
    for (const s of list) stationList.append(option(s.id));
  }).catch(() => {});

  await reload();
  if (live) startLive();

  return () => {
    abort.abort();
    stopLive();
    if (frame) cancelAnimationFrame(frame);
    closeDetail();
  };
}

function activeCount(filters) {
  const n = new Set([...filters.keys()]).size;
  return n ? h('span', { class: 'count' }, ` (${n} active)`) : '';
}

