// The command console: send any central-system OCPP call to a connected station and see the
// answer and the log rows it produced.

import { api, apiRaw, enc } from './api.js';
import { h, replace, pretty, errorBox, loading, fmtTime, timeEl, badge } from './dom.js';
import { COMMANDS, COMMAND_HELP, exampleFor } from './ocpp.js';
import { errorExplanation, typeLabel } from './detail.js';
import { outcomeBadge } from './station.js';

export async function render(container, query) {
  const abort = new AbortController();
  replace(container, loading('Loading stations…'));
  let stations;
  try {
    stations = await api('/api/v1/stations', { signal: abort.signal });
  } catch (e) {
    if (e.name !== 'AbortError') replace(container, errorBox(e, () => render(container, query)));
    return () => abort.abort();
  }
  stations.sort((a, b) => a.id.localeCompare(b.id));
  const connected = stations.filter((s) => s.connected);
  const offline = stations.filter((s) => !s.connected);
  const wanted = query.get('station') || '';

  const stationSelect = h('select', { id: 'cmd-station', name: 'station', required: true },
    connected.length ? null : h('option', { value: '' }, 'No station is connected'),
    h('optgroup', { label: 'Connected' }, connected.map((s) => h('option', { value: s.id, selected: s.id === wanted }, s.id))),
    offline.length ? h('optgroup', { label: 'Offline (cannot receive commands)' }, offline.map((s) => h('option', { value: s.id, disabled: true }, s.id))) : null);
  const initialAction = COMMANDS.includes(query.get('action')) ? query.get('action') : 'TriggerMessage';
  const actionSelect = h('select', { id: 'cmd-action', name: 'action' }, COMMANDS.map((a) => h('option', { value: a, selected: a === initialAction }, a)));
  const help = h('p', { class: 'help', id: 'cmd-help' });
  const editor = h('textarea', { id: 'cmd-payload', name: 'payload', rows: 12, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'cmd-json-state cmd-help' });
  const jsonState = h('p', { id: 'cmd-json-state', class: 'json-state', 'aria-live': 'polite' });
  const send = h('button', { type: 'submit', class: 'btn btn-primary', id: 'cmd-send', disabled: !connected.length }, 'Send');
  const result = h('section', { class: 'card result', id: 'cmd-result', 'aria-live': 'polite', hidden: true });
  const history = h('section', { class: 'card', id: 'cmd-history' });

  function setExample() {
    editor.value = pretty(exampleFor(actionSelect.value));
    help.textContent = COMMAND_HELP[actionSelect.value] || '';
    checkJson();
  }

  function checkJson() {
    try {
      const v = JSON.parse(editor.value || '{}');
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('the payload must be a JSON object { … }');
      jsonState.textContent = 'Valid JSON. The server checks it against the OCPP 1.6 schema before sending.';
      jsonState.className = 'json-state ok';
      editor.removeAttribute('aria-invalid');
      return v;
    } catch (e) {
      jsonState.textContent = `Not valid JSON: ${e.message}`;
      jsonState.className = 'json-state bad';
      editor.setAttribute('aria-invalid', 'true');
      return null;
    }
  }

  async function onSubmit(ev) {
    ev.preventDefault();
    const station = stationSelect.value;
    const action = actionSelect.value;
    if (!station) return;
    const payload = checkJson();
    if (!payload) {
      editor.focus();
      return;
    }
    send.disabled = true;
    send.textContent = 'Waiting for the station…';
    result.hidden = false;
    replace(result, h('h2', {}, 'Answer'), loading(`Sending ${action} to ${station}…`));
    const sentAt = Date.now();
    try {
      const { status, body } = await apiRaw(`/api/v1/stations/${enc(station)}/commands/${enc(action)}`, {
        method: 'POST', rawBody: JSON.stringify(payload), signal: abort.signal,
      });
      showAnswer(status, body, Date.now() - sentAt, station, action);
      showLogRows(station, action, sentAt);
      drawHistory(station);
    } catch (e) {
      if (e.name !== 'AbortError') replace(result, h('h2', {}, 'Answer'), errorBox(e));
    } finally {
      send.disabled = false;
      send.textContent = 'Send';
    }
  }

  function showAnswer(status, body, ms, station, action) {
    const detail = body && typeof body === 'object' ? body.detail || body.error : body;
    const head = (text, kind) => h('p', { class: `answer-head answer-${kind}`, id: 'cmd-outcome' }, text, h('span', { class: 'muted' }, ` · HTTP ${status} · ${ms} ms`));
    let content;
    if (status === 200 && body.message_type === 'CALLRESULT') {
      content = [head(`${station} answered ${action} with CALLRESULT${body.payload && body.payload.status ? `: ${body.payload.status}` : ''}`, 'ok'),
        h('pre', { class: 'payload', id: 'cmd-answer' }, pretty(body.payload))];
    } else if (status === 200 && body.message_type === 'CALLERROR') {
      content = [head(`${station} answered ${action} with CALLERROR ${body.error_code}`, 'bad'),
        body.error_description ? h('p', {}, 'Description: ', body.error_description) : null,
        errorExplanation(body.error_code, 'CALLERROR'),
        h('pre', { class: 'payload', id: 'cmd-answer' }, pretty(body))];
    } else if (status === 400) {
      content = [head('Not sent: the request is not valid', 'bad'), h('p', { class: 'error-text' }, detail),
        h('p', { class: 'help' }, 'Fix the payload and send again. The example button restores a valid request.')];
    } else if (status === 409) {
      content = [head('Not sent: the station is not connected', 'warn'), h('p', {}, detail)];
    } else if (status === 504) {
      content = [head('No answer in time', 'warn'), h('p', {}, detail),
        h('p', { class: 'help' }, 'The call was sent but the station did not answer. It may be busy, offline behind a half-open connection, or not support this action.')];
    } else if (status === 404) {
      content = [head('Not found', 'bad'), h('p', {}, detail)];
    } else if (status === 429) {
      content = [head('Too many commands waiting', 'warn'), h('p', {}, detail)];
    } else {
      content = [head(`Unexpected answer`, 'bad'), h('pre', { class: 'payload' }, pretty(body))];
    }
    replace(result, h('h2', {}, 'Answer'), content, h('div', { id: 'cmd-logrows' }));
  }

  /** Shows the log rows the command produced (the indexer needs a moment; poll briefly). */
  async function showLogRows(station, action, sentAt) {
    const box = result.querySelector('#cmd-logrows');
    if (!box) return;
    const from = new Date(sentAt - 1000).toISOString();
    const p = new URLSearchParams({ station_id: station, from, limit: '50' });
    p.append('action', action);
    replace(box, h('h3', {}, 'Log rows'), loading('Waiting for the log…'));
    let items = [];
    for (let i = 0; i < 8; i++) {
      try {
        items = (await api(`/api/v1/logs?${p}`, { signal: abort.signal })).items;
      } catch (e) {
        if (e.name === 'AbortError') return;
        replace(box, h('h3', {}, 'Log rows'), errorBox(e));
        return;
      }
      if (items.length >= 2) break;
      await new Promise((r) => setTimeout(r, 400));
    }
    const st = stations.find((s) => s.id === station);
    const link = h('a', { href: `#/logs?station_id=${enc(station)}&from=${enc(from)}` }, 'Open in OCPP Logs');
    if (!items.length) {
      replace(box, h('h3', {}, 'Log rows'), h('p', { class: 'muted' },
        `No rows for this call in the log. Commands are kept at the debug level; ${station} is logged at `,
        badge(st ? st.effective_log_level : '?'), '. ', h('a', { href: '#/admin' }, 'Change the level'), ' or set a station override on ',
        h('a', { href: `#/stations/${enc(station)}` }, 'the station page'), '.'));
      return;
    }
    replace(box, h('h3', {}, 'Log rows'), h('div', { class: 'table-scroll' }, h('table', { class: 'data-table', id: 'cmd-log-table' },
      h('thead', {}, h('tr', {}, ['Timestamp', 'Direction', 'Type', 'Status', 'Error Code', 'Latency'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, items.slice().reverse().map((x) => h('tr', {},
        h('td', { class: 'ts nowrap' }, fmtTime(x.timestamp)),
        h('td', { class: 'nowrap' }, x.direction === 'out' ? 'to the charger' : 'from the charger'),
        h('td', {}, typeLabel(x.message_type)),
        h('td', {}, x.status || ''), h('td', {}, x.error_code || ''),
        h('td', { class: 'num' }, x.latency_ms != null ? `${x.latency_ms} ms` : '')))))), h('p', {}, link));
  }

  async function drawHistory(station) {
    if (!station) {
      replace(history);
      return;
    }
    try {
      const cmds = await api(`/api/v1/stations/${enc(station)}/commands`, { signal: abort.signal });
      replace(history, h('h2', {}, `Recent commands to ${station}`), cmds.length
        ? h('div', { class: 'table-scroll' }, h('table', { class: 'data-table' },
          h('thead', {}, h('tr', {}, ['Sent', 'Action', 'Outcome', 'By'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, cmds.slice(0, 10).map((c) => h('tr', {}, h('td', {}, timeEl(c.sent_at, true)), h('td', {}, c.action), h('td', {}, outcomeBadge(c.outcome)), h('td', {}, c.sent_by))))))
        : h('p', { class: 'muted' }, 'None yet.'));
    } catch (e) {
      if (e.name !== 'AbortError') replace(history, errorBox(e));
    }
  }

  replace(container,
    h('div', { class: 'page-head' }, h('h1', {}, 'Command console')),
    h('p', { class: 'help' }, 'Send an OCPP 1.6 call to a connected charging station. The payload is checked as JSON here and against the OCPP schema by the server before anything is sent.'),
    h('div', { class: 'console-layout' },
      h('form', { class: 'card console-form', id: 'cmd-form', onsubmit: onSubmit },
        h('div', { class: 'inline-fields' },
          h('label', { for: 'cmd-station' }, 'Station'), stationSelect,
          h('label', { for: 'cmd-action' }, 'Action'), actionSelect),
        help,
        h('label', { for: 'cmd-payload' }, 'Payload (JSON)'),
        editor,
        jsonState,
        h('div', { class: 'buttons' }, send,
          h('button', { type: 'button', class: 'btn', onclick: setExample }, 'Reset to example'),
          h('button', { type: 'button', class: 'btn', onclick: () => { const v = checkJson(); if (v) editor.value = pretty(v); } }, 'Format')),
        connected.length ? null : h('p', { class: 'notice' }, 'No station is connected right now. Commands can only reach a connected station.')),
      h('div', {}, result, history)));

  actionSelect.addEventListener('change', setExample);
  stationSelect.addEventListener('change', () => drawHistory(stationSelect.value));
  editor.addEventListener('input', checkJson);
  editor.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      send.click();
    }
  });
  setExample();
  drawHistory(stationSelect.value);
  return () => abort.abort();
}
