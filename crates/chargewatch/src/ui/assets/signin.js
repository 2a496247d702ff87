// Sign-in: with a user account (user name and password → a session token from
// POST /api/v1/auth/login), or with the admin token the server was started with. Either is
// checked against the API before it is kept.

import { checkToken, setToken, getToken, login } from './api.js';
import { h, replace } from './dom.js';

const MODE_KEY = 'chargewatch.signin-mode';

export function render(container, query) {
  const next = query.get('next') || '#/logs';
  const reason = sessionStorage.getItem('chargewatch.signin-reason');
  sessionStorage.removeItem('chargewatch.signin-reason');
  let mode = localStorage.getItem(MODE_KEY) === 'token' ? 'token' : 'account';

  const username = h('input', {
    id: 'username', name: 'username', type: 'text', autocomplete: 'username', spellcheck: 'false', autocapitalize: 'off',
  });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password' });
  const token = h('input', {
    id: 'token', name: 'token', type: 'password', autocomplete: 'current-password',
    spellcheck: 'false', 'aria-describedby': 'token-help',
  });
  const remember = h('input', { id: 'remember', type: 'checkbox' });
  const message = h('div', { class: 'form-message', role: 'alert', 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'signin-submit' }, 'Sign in');

  const accountFields = h('div', { class: 'signin-fields', id: 'signin-account' },
    h('label', { for: 'username' }, 'User name'), username,
    h('label', { for: 'password' }, 'Password'), password);
  const tokenFields = h('div', { class: 'signin-fields', id: 'signin-token' },
    h('label', { for: 'token' }, 'Admin token'), token,
    h('p', { id: 'token-help', class: 'help' }, 'The token the server was started with (--admin-token).'));

  const modeRadio = (value, label) => {
    const id = `signin-mode-${value}`;
    return [
      h('input', { type: 'radio', name: 'signin-mode', id, value, checked: mode === value, onchange: () => setMode(value) }),
      h('label', { for: id }, label),
    ];
  };
  const modes = h('fieldset', { class: 'segmented signin-modes' },
    h('legend', { class: 'sr-only' }, 'Sign in with'),
    modeRadio('account', 'User account'), modeRadio('token', 'Admin token'));

  function setMode(value, focus = true) {
    mode = value;
    accountFields.hidden = mode !== 'account';
    tokenFields.hidden = mode !== 'token';
    replace(message);
    if (focus) (mode === 'account' ? (username.value ? password : username) : token).focus();
  }

  function done(kind) {
    localStorage.setItem(MODE_KEY, kind === 'account' ? 'account' : 'token');
    location.hash = next.startsWith('#/') && !next.startsWith('#/signin') ? next : '#/logs';
  }

  async function signInWithAccount() {
    const user = username.value.trim();
    if (!user || !password.value) {
      replace(message, h('span', { class: 'error-text' }, 'Enter your user name and password.'));
      (user ? password : username).focus();
      return;
    }
    const answer = await login(user, password.value);
    if (!answer) {
      replace(message, h('span', { class: 'error-text' }, 'Wrong user name or password (or the account is disabled).'));
      password.select();
      return;
    }
    setToken(answer.token, remember.checked, 'account');
    done('account');
  }

  async function signInWithToken() {
    const value = token.value.trim();
    if (!value) {
      replace(message, h('span', { class: 'error-text' }, 'Enter the admin token.'));
      token.focus();
      return;
    }
    if (await checkToken(value)) {
      setToken(value, remember.checked, 'admin');
      done('admin');
    } else {
      replace(message, h('span', { class: 'error-text' }, 'This token is not valid. Use the admin token given with --admin-token (or CHARGEWATCH_ADMIN_TOKEN).'));
      token.select();
    }
  }

  async function onSubmit(ev) {
    ev.preventDefault();
    submit.disabled = true;
    replace(message, h('span', { class: 'loading' }, 'Checking…'));
    try {
      await (mode === 'account' ? signInWithAccount() : signInWithToken());
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
      h('form', { onsubmit: onSubmit, novalidate: true, id: 'signin-form' },
        modes,
        accountFields,
        tokenFields,
        h('div', { class: 'check' }, remember, h('label', { for: 'remember' }, 'Remember me on this device')),
        submit,
        message)));
  setMode(mode);
}
