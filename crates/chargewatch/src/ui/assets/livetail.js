// The live tail: /api/v1/logs/stream is Server-Sent Events, but EventSource cannot send the
// Authorization header, so the stream is read with fetch() and parsed here.

import { openStream } from './api.js';

/**
 * Parses SSE text incrementally. feed(chunk) calls onEvent({event, data, id}) for every
 * complete event; comments (keep-alives) are skipped.
 */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = '';
    this.reset();
  }

  reset() {
    this.event = '';
    this.data = [];
    this.id = '';
  }

  feed(chunk) {
    // One pass over the text: a big chunk of many events must not be copied once per line.
    const buf = this.buffer + chunk;
    const eol = /\r\n|\n|\r/g;
    let start = 0;
    let m;
    while ((m = eol.exec(buf))) {
      // A lone \r at the very end may be half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === buf.length - 1) break;
      this.line(buf.slice(start, m.index));
      start = eol.lastIndex;
    }
    this.buffer = buf.slice(start);
  }

  line(line) {
    if (line === '') {
      if (this.data.length) this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      this.reset();
      return;
    }
    if (line.startsWith(':')) return;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
  }
}

/**
 * Follows the stream until stop() is called, reconnecting after a drop.
 * Callbacks: onItem(item), onLagged(skipped), onState('connecting'|'live'|'retrying', detail).
 */
export function follow(url, { onItem, onLagged, onState, onOpen }) {
  const controller = new AbortController();
  let stopped = false;
  let delay = 1000;

  async function run() {
    while (!stopped) {
      onState('connecting');
      try {
        const res = await openStream(url, controller.signal);
        onState('live');
        delay = 1000;
        if (onOpen) onOpen();
        const parser = new SseParser((ev) => {
          if (ev.event === 'log') {
            try {
              onItem(JSON.parse(ev.data));
            } catch (e) {
              console.warn('bad live-tail event', e);
            }
          } else if (ev.event === 'lagged') {
            try {
              onLagged(JSON.parse(ev.data).skipped);
            } catch {
              onLagged(0);
            }
          }
        });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
        if (stopped) return;
        onState('retrying', 'The stream ended.');
      } catch (e) {
        if (stopped || e.name === 'AbortError') return;
        if (e.status === 401) return; // api.js has sent the operator to the sign-in page
        onState('retrying', e.message);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  run();
  return {
    stop() {
      stopped = true;
      controller.abort();
    },
  };
}
