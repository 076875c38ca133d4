// app.js: the console's shell. It shows the sign-in form until someone signs in, then a header
// (the user, sign out) and the nav, and routes by the URL fragment: `#/<page>/<rest>?<query>`
// imports ./pages/<page>.js and calls its `render(main, ctx)`. Links mailed to people land on
// a path instead (`/console/reset-password#token=...`): those pages need no session.

import { api, apiRaw, session, signIn, signOut } from './api.js';
import { errorMessage, formField, h } from './dom.js';

const PAGES = [
  ['dashboard', 'Dashboard'],
  ['customers', 'Customers'],
  ['dispatch', 'Dispatch'],
  ['routes', 'Routes'],
  ['invoices', 'Invoices'],
  ['modules', 'Modules'],
  ['users', 'Users'],
  ['settings', 'Settings'],
];
/** Pages reached from a mailed link, without signing in. */
const PUBLIC = ['reset-password', 'accept-invite'];
const PAGE_NAME = /^[a-z][a-z-]*$/;

const top = document.getElementById('top');
const nav = document.getElementById('nav');
const main = document.getElementById('main');
let wanted = null; // the hash to open after signing in

/** Opens `#/<page>...`; from a mailed link's path it goes back to the shell without a reload. */
export function navigate(hash) {
  if (location.pathname !== '/console/') {
    history.pushState(null, '', `/console/${hash}`);
    route();
  } else if (location.hash !== hash) {
    location.hash = hash; // popstate routes
  } else {
    route();
  }
}

async function route() {
  const linked = location.pathname.replace(/^\/console\/?/, '').split('/')[0];
  if (PUBLIC.includes(linked)) return show(linked, [], new URLSearchParams(location.hash.slice(1)));
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [page = '', ...params] = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (!session()) {
    if (page && page !== 'sign-in') wanted = location.hash;
    return showSignIn();
  }
  if (!page || page === 'sign-in') return navigate('#/dashboard');
  return show(page, params, new URLSearchParams(query));
}

async function show(page, params, query) {
  drawChrome(page);
  main.replaceChildren(h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  try {
    if (!PAGE_NAME.test(page)) throw new Error(`There is no page “${page}”.`);
    const module = await import(`./pages/${page}.js`).catch(() => {
      throw new Error(`There is no page “${page}”.`);
    });
    const target = h('div', { class: 'page' });
    const ctx = { api, apiRaw, session, navigate, params, query };
    main.replaceChildren(target);
    await module.render(target, ctx);
  } catch (err) {
    main.replaceChildren(errorMessage(err));
  }
}

function drawChrome(active) {
  const me = session();
  top.replaceChildren(
    h('a', { class: 'brand', href: '#/dashboard' }, 'VeroField'),
    me
      ? h(
          'div',
          { class: 'who' },
          h('span', { class: 'user' }, me.user.email, h('small', null, ` · ${me.tenant.name}`)),
          h('button', { type: 'button', class: 'secondary', 'on:click': doSignOut }, 'Sign out'),
        )
      : null,
  );
  nav.replaceChildren(
    me
      ? h(
          'ul',
          null,
          PAGES.map(([page, label]) =>
            h('li', null, h('a', { href: `#/${page}`, 'aria-current': page === active ? 'page' : null }, label)),
          ),
        )
      : '',
  );
}

function showSignIn(notice) {
  drawChrome(null);
  const tenant = h('input', { name: 'tenant', autocomplete: 'organization', required: true });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('div', { class: 'status', 'aria-live': 'polite' }, notice ? h('p', { class: 'notice' }, notice) : null);
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'card sign-in',
      'aria-labelledby': 'sign-in-title',
      'on:submit': async (event) => {
        event.preventDefault();
        button.disabled = true;
        status.replaceChildren(h('p', { role: 'status' }, 'Signing in…'));
        try {
          await signIn(tenant.value.trim(), email.value.trim(), password.value);
          const next = wanted || '#/dashboard';
          wanted = null;
          navigate(next);
        } catch (err) {
          status.replaceChildren(errorMessage(err));
          button.disabled = false;
          password.focus();
        }
      },
    },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    formField('Company (tenant)', tenant),
    formField('Email', email),
    formField('Password', password),
    status,
    button,
  );
  main.replaceChildren(form);
  tenant.focus();
}

async function doSignOut() {
  await signOut();
  wanted = null;
  navigate('#/sign-in');
}

// `/console` and `/console/` are the same page; the shell's links are relative to the latter.
if (location.pathname === '/console') history.replaceState(null, '', `/console/${location.hash}`);
window.addEventListener('popstate', route); // fragment changes and back/forward
window.addEventListener('console:signed-out', () => {
  wanted = location.hash;
  showSignIn('Your session ended; please sign in again.');
});
route();
