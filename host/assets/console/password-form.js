// password-form.js: what reset-password and accept-invite share. Both are opened from a
// mailed (or handed-over) link `/console/<page>#token=...`: the token is read from the URL
// fragment (never sent to the server in a URL, never in the Referer), exchanged with the new
// password by a POST, and the page then offers the sign-in form.

import { api } from './api.js';
import { errorMessage, formField, h } from './dom.js';

/** Draws the form into `main`; `endpoint` is the POST that spends the token. */
export function passwordForm(main, ctx, { title, intro, endpoint, button, done }) {
  main.append(h('h1', null, title));
  const token = ctx.query.get('token');
  if (!token) {
    main.append(errorMessage({ title: 'This link is incomplete', detail: 'Open the whole link you were sent, or ask your administrator for a new one.' }));
    return;
  }
  // The token stays in this page only; the address bar loses it.
  history.replaceState(null, '', location.pathname);
  const password = h('input', { type: 'password', name: 'new-password', autocomplete: 'new-password', required: true, minLength: 10 });
  const again = h('input', { type: 'password', name: 'confirm-password', autocomplete: 'new-password', required: true });
  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      class: 'card sign-in',
      'on:submit': async (event) => {
        event.preventDefault();
        if (password.value !== again.value) {
          status.replaceChildren(errorMessage({ title: 'The passwords differ', detail: 'Type the same password twice.' }));
          return;
        }
        try {
          await api('POST', endpoint, { token, password: password.value });
          form.replaceWith(
            h('div', { class: 'card sign-in' }, h('p', { class: 'notice', role: 'status' }, done), h('a', { href: '/console/#/sign-in', class: 'button-link', 'on:click': (e) => { e.preventDefault(); ctx.navigate('#/sign-in'); } }, 'Sign in')),
          );
        } catch (err) {
          status.replaceChildren(errorMessage(err));
        }
      },
    },
    h('p', null, intro),
    formField('New password', password, 'At least 10 characters.'),
    formField('New password again', again),
    status,
    h('button', { type: 'submit' }, button),
  );
  main.append(form);
  password.focus();
}
