// The detail panel of one log row: the payload, its request/response partner, latency,
// validation note and the error code explained.

import { api, enc } from './api.js';
import { h, replace, fmtTime, pretty, timeEl } from './dom.js';
import { explainError } from './ocpp.js';

/** How far apart a call and its answer may be in the log. */
const PARTNER_WINDOW_MS = 10 * 60 * 1000;

let panel = null;
let returnFocus = null;

export function directionText(d) {
  return d === 'in' ? 'Charger → central system' : d === 'out' ? 'Central system → charger' : d || '';
}

export function typeLabel(t) {
  return { CALL: 'Request (CALL)', CALLRESULT: 'Response (CALLRESULT)', CALLERROR: 'Error (CALLERROR)', EVENT: 'Connection event' }[t] || t;
}

/** An explanation box for an error code, or null. */
export function errorExplanation(code, messageType) {
  const e = explainError(code, messageType);
  if (!e || code === 'NoError') return null;
  return h('div', { class: 'explain' },
    h('p', {}, h('strong', {}, code), ': ', e.meaning),
    h('p', {}, h('strong', {}, 'What to do: '), e.hint));
}

/**
 * Finds the CALL of a response, or the response of a CALL: same station, same unique id,
 * opposite direction, within the time window; the closest in time wins. The API's `q`
 * searches payloads, not unique ids, so candidates are fetched by station, action and time.
 */
export async function findPartner(item, signal) {
  if (!item.unique_id || item.message_type === 'EVENT') return null;
  const isCall = item.message_type === 'CALL';
  const t = Date.parse(item.timestamp);
  const from = new Date(isCall ? t : t - PARTNER_WINDOW_MS).toISOString();
  const to = new Date(isCall ? t + PARTNER_WINDOW_MS : t + 1).toISOString();
  const p = new URLSearchParams({ station_id: item.station_id, from, to, limit: '1000' });
  if (item.action) p.append('action', item.action);
  let best = null;
  let cursor = null;
  for (let page = 0; page < 5; page++) {
    if (cursor) p.set('cursor', cursor);
    const res = await api(`/api/v1/logs?${p}`, { signal });
    for (const x of res.items) {
      const answers = isCall ? x.message_type === 'CALLRESULT' || x.message_type === 'CALLERROR' : x.message_type === 'CALL';
      if (x.id === item.id || !answers || x.unique_id !== item.unique_id || x.direction === item.direction) continue;
      const dt = Math.abs(Date.parse(x.timestamp) - t);
      if (!best || dt < best.dt) best = { item: x, dt };
    }
    // Newest first: for an answer the first match before it is the closest.
    if ((best && !isCall) || !res.next) break;
    cursor = res.next;
  }
  return best ? best.item : null;
}

function field(label, value) {
  if (value === null || value === undefined || value === '') value = h('span', { class: 'muted' }, '—');
  return [h('dt', {}, label), h('dd', {}, value)];
}

function payloadBlock(payload, label) {
  const text = pretty(payload);
  const pre = h('pre', { class: 'payload', tabindex: 0, 'aria-label': label }, text);
  const copy = h('button', {
    type: 'button', class: 'btn btn-small btn-quiet',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        copy.textContent = 'Copied';
      } catch {
        const r = document.createRange();
        r.selectNodeContents(pre);
        getSelection().removeAllRanges();
        getSelection().addRange(r);
        copy.textContent = 'Selected — press Ctrl+C';
      }
      setTimeout(() => { copy.textContent = 'Copy'; }, 2000);
    },
  }, 'Copy');
  return h('div', { class: 'payload-wrap' }, copy, pre);
}

export function closeDetail() {
  if (!panel) return;
  panel.abort?.abort();
  panel.el.remove();
  panel = null;
  document.removeEventListener('keydown', onKey);
  if (returnFocus && document.contains(returnFocus)) returnFocus.focus();
  returnFocus = null;
}

function onKey(ev) {
  if (ev.key === 'Escape') closeDetail();
}

/** Opens (or replaces) the panel for `item`. `host` is where the panel lives. */
export function openDetail(item, host, opener) {
  const keepFocus = panel ? returnFocus : opener || document.activeElement;
  closeDetail();
  returnFocus = keepFocus;
  const abort = new AbortController();
  const isCall = item.message_type === 'CALL';
  const partnerBox = h('section', { class: 'partner', 'aria-live': 'polite' });
  const latency = h('span', {}, item.latency_ms != null ? `${item.latency_ms} ms` : '—');
  const t = Date.parse(item.timestamp);
  const around = new URLSearchParams({
    station_id: item.station_id,
    from: new Date(t - 5 * 60_000).toISOString(),
    to: new Date(t + 5 * 60_000).toISOString(),
  });
  const close = h('button', { type: 'button', class: 'btn btn-quiet close', 'aria-label': 'Close details', onclick: closeDetail }, '✕');
  const el = h('aside', { class: 'detail-panel', role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'detail-title', id: 'detail' },
    h('header', {},
      h('h2', { id: 'detail-title' }, item.action || '(unknown action)', h('span', { class: 'muted' }, ` · ${typeLabel(item.message_type)}`)),
      close),
    h('p', { class: 'direction' }, directionText(item.direction)),
    item.validation_error
      ? h('div', { class: 'warning-box', role: 'note' }, h('strong', {}, 'Validation note: '), item.validation_error,
        h('p', { class: 'help' }, 'This frame broke the OCPP 1.6 schema. The charger\'s firmware sent something the standard does not allow; its vendor can fix it.'))
      : null,
    errorExplanation(item.error_code, item.message_type),
    h('dl', { class: 'facts' },
      field('Timestamp (UTC)', fmtTime(item.timestamp)),
      field('Charging Station ID', h('a', { href: `#/stations/${enc(item.station_id)}` }, item.station_id)),
      field('Charging Point ID', item.connector_id != null ? String(item.connector_id) : ''),
      field('Status', item.status),
      field('Error Code', item.error_code),
      field('Site Name', item.site_name ? `${item.site_name} (${item.site_id})` : ''),
      field('Unique id', item.unique_id ? h('code', {}, item.unique_id) : ''),
      field('Latency', latency),
      field('Validation note', item.validation_error || 'None (valid)'),
      field('Kept at level', item.level),
      field('Row id', h('code', {}, item.id))),
    h('h3', {}, 'Payload'),
    payloadBlock(item.payload, 'Payload'),
    partnerBox,
    h('p', {}, h('a', { href: `#/logs?${around}` }, 'All frames of this station ±5 minutes')));
  host.append(el);
  panel = { el, abort };
  document.addEventListener('keydown', onKey);
  close.focus();

  if (item.message_type === 'EVENT' || !item.unique_id) return;
  replace(partnerBox, h('h3', {}, isCall ? 'Response' : 'Request'), h('p', { class: 'loading' }, 'Looking for the matching frame…'));
  findPartner(item, abort.signal).then((p) => {
    if (!p) {
      replace(partnerBox, h('h3', {}, isCall ? 'Response' : 'Request'),
        h('p', { class: 'muted' }, isCall
          ? 'No answer with this unique id in the log within 10 minutes. The station may not have answered, or the answer was not kept at this log level.'
          : 'The request with this unique id is not in the log (it may not have been kept at this log level).'));
      return;
    }
    if (isCall && p.latency_ms != null) latency.textContent = `answered in ${p.latency_ms} ms`;
    replace(partnerBox,
      h('h3', {}, isCall ? 'Response' : 'Request'),
      h('p', {},
        h('strong', {}, typeLabel(p.message_type)), ' at ', timeEl(p.timestamp),
        p.status ? ` · status ${p.status}` : '',
        p.error_code ? ` · error ${p.error_code}` : '',
        p.latency_ms != null ? ` · ${p.latency_ms} ms` : '', ' ',
        h('button', { type: 'button', class: 'btn btn-small', onclick: () => openDetail(p, host) }, 'Open')),
      p.validation_error ? h('div', { class: 'warning-box' }, h('strong', {}, 'Validation note: '), p.validation_error) : null,
      errorExplanation(p.error_code, p.message_type),
      payloadBlock(p.payload, isCall ? 'Response payload' : 'Request payload'));
  }).catch((e) => {
    if (e.name === 'AbortError') return;
    replace(partnerBox, h('p', { class: 'error-text' }, `Could not look up the matching frame: ${e.message}`));
  });
}
