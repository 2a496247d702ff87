// One station: boot information, connectors (status, error, hint), a 24-hour status timeline
// per connector, recent transactions, command history, the temporary log-level override, and
// the profile state (configuration, local list, reservations, firmware/diagnostics jobs…).

import { api, sites as loadSites, enc } from './api.js';
import { h, svg, replace, timeEl, fmtTimeShort, badge, errorBox, loading, toast, pretty, ago } from './dom.js';
import { errorExplanation } from './detail.js';
import { statusBadge, connectionBadge } from './stations.js';
import { profileSection } from './profile.js';

const DAY_MS = 24 * 3600_000;

export const STATUS_COLORS = {
  Available: '#2f9e44',
  Preparing: '#74c0fc',
  Charging: '#1c7ed6',
  SuspendedEVSE: '#f59f00',
  SuspendedEV: '#ffd43b',
  Finishing: '#20c997',
  Reserved: '#9c36b5',
  Unavailable: '#495057',
  Faulted: '#e03131',
  Unknown: '#dee2e6',
};

function duration(ms) {
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Segments of one connector's status over [start, end]. */
export function segments(changes, start, end, current) {
  const out = [];
  let status = changes.length ? 'Unknown' : current?.status || 'Unknown';
  let errorCode = changes.length ? '' : current?.error_code || '';
  let from = start;
  for (const c of changes) {
    const at = Math.max(Date.parse(c.at), start);
    if (at > from) out.push({ status, errorCode, from, to: at });
    status = c.status;
    errorCode = c.error_code;
    from = at;
  }
  if (end > from) out.push({ status, errorCode, from, to: end });
  return out;
}

function timeline(connectorId, changes, current, now) {
  const start = now - DAY_MS;
  const W = 1000;
  const x = (t) => ((t - start) / DAY_MS) * W;
  const segs = segments(changes, start, now, current);
  const ticks = [];
  for (let i = 0; i <= 8; i++) {
    const t = start + (i * DAY_MS) / 8;
    const label = new Date(t).toISOString().slice(11, 16);
    ticks.push(svg('line', { x1: x(t), x2: x(t), y1: 30, y2: 34, stroke: '#868e96' }));
    ticks.push(svg('text', { x: Math.min(Math.max(x(t), 14), W - 14), y: 46, 'text-anchor': 'middle', 'font-size': 11, fill: '#495057' }, label));
  }
  const chart = svg('svg', {
    viewBox: `0 0 ${W} 50`, class: 'timeline', role: 'img', preserveAspectRatio: 'none',
    'aria-label': `Connector ${connectorId}: status over the last 24 hours`,
  },
  segs.map((s) => svg('rect', { x: x(s.from), y: 4, width: Math.max(x(s.to) - x(s.from), 1), height: 26, fill: STATUS_COLORS[s.status] || '#adb5bd' },
    svg('title', {}, `${s.status}${s.errorCode && s.errorCode !== 'NoError' ? ` (${s.errorCode})` : ''}: ${fmtTimeShort(new Date(s.from).toISOString())} – ${fmtTimeShort(new Date(s.to).toISOString())} UTC, ${duration(s.to - s.from)}`))),
  ticks);
  const used = [...new Set(segs.map((s) => s.status))];
  // The first change may be the one in effect when the window starts: a segment, not a change of the last 24 hours.
  const inWindow = changes.filter((c) => Date.parse(c.at) >= start);
  return h('figure', { class: 'timeline-box', dataset: { connector: connectorId } },
    h('figcaption', {}, connectorId === 0 ? 'Station (connector 0)' : `Connector ${connectorId}`),
    chart,
    h('ul', { class: 'legend' }, used.map((s) => h('li', {}, h('span', { class: `swatch swatch-${s}`, 'aria-hidden': 'true' }), s))),
    inWindow.length ? h('details', {}, h('summary', {}, `${inWindow.length} status change${inWindow.length === 1 ? '' : 's'} as a list`),
      h('ul', { class: 'changes' }, inWindow.map((c) => h('li', {}, timeEl(c.at, true), ' ', c.status, c.error_code !== 'NoError' ? ` (${c.error_code})` : ''))))
      : h('p', { class: 'muted small' }, 'No status change in the last 24 hours.'));
}

function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null || v === undefined || v === '' ? h('span', { class: 'muted' }, '—') : v)]));
}

function section(title, ...content) {
  return h('section', { class: 'card' }, h('h2', {}, title), content);
}

export async function render(container, _query, [id]) {
  const abort = new AbortController();
  replace(container, loading(`Loading station ${id}…`));

  async function load() {
    const base = `/api/v1/stations/${enc(id)}`;
    const [st, history, txs, cmds, sites] = await Promise.all([
      api(base, { signal: abort.signal }),
      api(`${base}/status-history?hours=24`, { signal: abort.signal }),
      api(`${base}/transactions?limit=20`, { signal: abort.signal }),
      api(`${base}/commands`, { signal: abort.signal }),
      loadSites(),
    ]);
    return { st, history, txs, cmds, sites };
  }

  async function draw() {
    let d;
    try {
      d = await load();
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(container, h('p', {}, h('a', { href: '#/stations' }, '← All stations')), errorBox(e, draw));
      return;
    }
    const { st, history, txs, cmds, sites } = d;
    const now = Date.now();
    const site = sites.find((s) => s.id === st.site_id);
    const connectorIds = [...new Set([...st.connectors.map((c) => c.connector_id), ...history.map((c) => c.connector_id)])].sort((a, b) => a - b);

    replace(container,
      h('p', { class: 'crumbs' }, h('a', { href: '#/stations' }, '← All stations')),
      h('div', { class: 'page-head' },
        h('h1', {}, st.id, ' ', connectionBadge(st.connected)),
        h('div', { class: 'toolbar' },
          h('a', { class: 'btn', href: `#/logs?station_id=${enc(st.id)}`, id: 'station-logs' }, 'Logs of this station'),
          h('a', { class: 'btn', href: `#/console?station=${enc(st.id)}` }, 'Send a command'),
          h('button', { type: 'button', class: 'btn', onclick: draw }, 'Refresh'))),
      h('div', { class: 'grid-2' },
        section('Boot information', dl([
          ['Vendor', st.vendor], ['Model', st.model], ['Serial number', st.serial_number],
          ['Firmware', st.firmware_version], ['ICCID', st.iccid], ['IMSI', st.imsi],
          ['Meter type', st.meter_type], ['Meter serial number', st.meter_serial_number],
          ['Boot status', st.boot_status], ['Last boot', timeEl(st.last_boot_at)],
          ['Last seen', st.last_seen_at ? [timeEl(st.last_seen_at), ` (${ago(st.last_seen_at)})`] : null],
          ['Last heartbeat', timeEl(st.last_heartbeat_at)],
          ['Firmware update', st.firmware_status], ['Diagnostics upload', st.diagnostics_status],
        ])),
        section('Site and logging', dl([
          ['Site', site ? `${site.name} (${site.id})` : st.site_id || h('span', { class: 'muted' }, 'no site — kept at the default level')],
          ['Site log level', site ? badge(site.log_level, `lvl-${site.log_level}`) : null],
          ['Effective log level', badge(st.effective_log_level, `lvl-${st.effective_log_level}`)],
        ]), overrideForm(st, draw, abort))),
      section('Connectors', st.connectors.length
        ? h('div', { class: 'connector-grid' }, st.connectors.map((c) => h('article', { class: 'connector', dataset: { connector: c.connector_id } },
          h('h3', {}, c.connector_id === 0 ? 'Station (0)' : `Connector ${c.connector_id}`, ' ', statusBadge(c.status, c.error_code)),
          dl([['Error code', c.error_code], ['Info', c.info], ['Vendor', c.vendor_id], ['Vendor error code', c.vendor_error_code],
            ['Since', timeEl(c.timestamp)]]),
          errorExplanation(c.error_code, 'CALL'),
          h('a', { href: `#/logs?station_id=${enc(st.id)}&connector_id=${c.connector_id}` }, 'Logs of this connector'))))
        : h('p', { class: 'muted' }, 'No StatusNotification received yet.')),
      section('Status, last 24 hours (UTC)', connectorIds.length
        ? h('div', { class: 'timelines' }, connectorIds.map((cid) => timeline(cid, history.filter((x) => x.connector_id === cid), st.connectors.find((c) => c.connector_id === cid), now)),
          h('ul', { class: 'legend legend-all' }, Object.keys(STATUS_COLORS).map((s) => h('li', {}, h('span', { class: `swatch swatch-${s}`, 'aria-hidden': 'true' }), s))))
        : h('p', { class: 'muted' }, 'No status history yet.')),
      section('Recent transactions', txs.length
        ? h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'tx-table' },
          h('thead', {}, h('tr', {}, ['Id', 'Connector', 'idTag', 'Started', 'Stopped', 'Energy', 'Stop reason'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, txs.map((t) => h('tr', {},
            h('td', { class: 'num' }, t.id), h('td', { class: 'num' }, t.connector_id),
            h('td', {}, t.id_tag, t.id_tag_status !== 'Accepted' ? [' ', badge(t.id_tag_status, 'warn')] : null),
            h('td', {}, timeEl(t.start_timestamp, true)),
            h('td', {}, t.stop_timestamp ? timeEl(t.stop_timestamp, true) : badge('running', 'ok')),
            h('td', { class: 'num' }, t.energy_wh != null ? `${(t.energy_wh / 1000).toFixed(2)} kWh` : '—'),
            h('td', {}, t.stop_reason || '—'))))))
        : h('p', { class: 'muted' }, 'No transactions yet.')),
      section('Commands sent', cmds.length
        ? h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'commands-table' },
          h('thead', {}, h('tr', {}, ['Sent', 'Action', 'Outcome', 'Answer', 'By'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, cmds.map((c) => h('tr', {},
            h('td', {}, timeEl(c.sent_at, true)),
            h('td', {}, c.action),
            h('td', {}, outcomeBadge(c.outcome)),
            h('td', {}, h('details', {}, h('summary', {}, answerSummary(c)),
              h('p', { class: 'small' }, 'Request'), h('pre', { class: 'payload small' }, pretty(c.payload)),
              c.response ? [h('p', { class: 'small' }, 'Answer'), h('pre', { class: 'payload small' }, pretty(c.response))] : null)),
            h('td', {}, c.sent_by))))))
        : h('p', { class: 'muted' }, 'No commands sent to this station yet. ', h('a', { href: `#/console?station=${enc(st.id)}` }, 'Open the command console'))),
      profileSection(st.id, abort.signal));
  }

  await draw();
  return () => abort.abort();
}

export function outcomeBadge(outcome) {
  if (!outcome) return badge('waiting', 'warn');
  const kind = outcome === 'CALLRESULT' ? 'ok' : outcome === 'CALLERROR' ? 'bad' : 'warn';
  return badge(outcome, kind);
}

function answerSummary(c) {
  const r = c.response;
  if (!r) return c.outcome ? c.outcome : 'no answer yet';
  if (r.message_type === 'CALLRESULT') return r.payload && r.payload.status ? `status ${r.payload.status}` : 'result';
  if (r.message_type === 'CALLERROR') return `${r.error_code}: ${r.error_description || ''}`;
  return c.outcome || '';
}

const DURATIONS = [[15, '15 minutes'], [60, '1 hour'], [240, '4 hours'], [1440, '24 hours'], [10080, '7 days']];

function overrideForm(st, redraw, abort) {
  const level = h('select', { id: 'ov-level', name: 'level' }, ['debug', 'info', 'none'].map((l) => h('option', { value: l }, l)));
  const minutes = h('select', { id: 'ov-minutes', name: 'minutes' }, DURATIONS.map(([m, label]) => h('option', { value: m, selected: m === 60 }, label)));
  const message = h('p', { class: 'form-message', role: 'status' });
  const until = st.level_override_until;
  const active = st.level_override && until && Date.parse(until) > Date.now();

  async function submit(ev) {
    ev.preventDefault();
    try {
      await api(`/api/v1/stations/${enc(st.id)}/log-level`, { method: 'PUT', body: { level: level.value, minutes: Number(minutes.value) }, signal: abort.signal });
      toast(`${st.id} logs at ${level.value} for ${minutes.selectedOptions[0].textContent}.`);
      redraw();
    } catch (e) {
      message.textContent = `Could not set the override: ${e.message}`;
    }
  }

  async function clear() {
    try {
      await api(`/api/v1/stations/${enc(st.id)}/log-level`, { method: 'DELETE', signal: abort.signal });
      toast(`Override of ${st.id} removed.`);
      redraw();
    } catch (e) {
      message.textContent = `Could not remove the override: ${e.message}`;
    }
  }

  return h('form', { class: 'override', id: 'override-form', onsubmit: submit },
    h('h3', {}, 'Temporary log level for this station'),
    h('p', { class: 'help' }, 'To troubleshoot one charger, log it at debug for a while without changing its whole site. The override ends by itself.'),
    active
      ? h('p', { class: 'notice', id: 'override-active' }, 'Override active: ', badge(st.level_override, `lvl-${st.level_override}`), ' until ', timeEl(until, true), ' UTC ',
        h('span', { class: 'muted' }, `(${duration(Date.parse(until) - Date.now())} left)`), ' ',
        h('button', { type: 'button', class: 'btn btn-small', onclick: clear }, 'Remove override'))
      : h('p', { class: 'muted' }, 'No override: the station follows its site\'s level.'),
    h('div', { class: 'inline-fields' },
      h('label', { for: 'ov-level' }, 'Level'), level,
      h('label', { for: 'ov-minutes' }, 'for'), minutes,
      h('button', { type: 'submit', class: 'btn btn-primary' }, active ? 'Replace override' : 'Set override')),
    message);
}
