// Sign-in: the operator pastes the admin token; it is checked against the API before it is kept.

import { checkToken, setToken, getToken } from './api.js';
import { h, replace } from './dom.js';

export function render(container, query) {
  const next = query.get('next') || '#/logs';
  const reason = sessionStorage.getItem('chargewatch.signin-reason');
  sessionStorage.removeItem('chargewatch.signin-reason');

  const input = h('input', {
    id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'current-password',
    spellcheck: 'false', 'aria-describedby': 'token-help',
  });
  const remember = h('input', { id: 'remember', type: 'checkbox' });
  const message = h('div', { class: 'form-message', role: 'alert', 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');

  async function onSubmit(ev) {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) {
      replace(message, 'Enter the admin token.');
      return;
    }
    submit.disabled = true;
    replace(message, h('span', { class: 'loading' }, 'Checking…'));
    try {
      if (await checkToken(token)) {
        setToken(token, remember.checked);
        location.hash = next.startsWith('#/') && !next.startsWith('#/signin') ? next : '#/logs';
      } else {
        replace(message, h('span', { class: 'error-text' }, 'This token is not valid. Use the admin token given with --admin-token (or CHARGEWATCH_ADMIN_TOKEN).'));
        input.select();
      }
    } catch (e) {
      replace(message, h('span', { class: 'error-text' }, e.message));
    } finally {
      submit.disabled = false;
    }
  }

  replace(container,
    h('section', { class: 'signin card' },
      h('h1', {}, h('img', { src: '/ui/favicon.svg', alt: '', width: 28, height: 28 }), ' Chargewatch'),
      h('p', { class: 'muted' }, 'OCPP 1.6-J central system — message log for operators.'),
      reason ? h('p', { class: 'notice' }, reason) : null,
      getToken() ? h('p', { class: 'notice' }, 'You are signed in. ', h('a', { href: '#/logs' }, 'Go to the logs')) : null,
      h('form', { onsubmit: onSubmit, novalidate: true },
        h('label', { for: 'token' }, 'Admin token'),
        input,
        h('p', { id: 'token-help', class: 'help' }, 'The token the server was started with (--admin-token).'),
        h('div', { class: 'check' }, remember, h('label', { for: 'remember' }, 'Remember me on this device')),
        submit,
        message)));
  input.focus();
}
