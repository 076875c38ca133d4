// pages/users.js: the company's users and their roles (GET /v1/users, GET /v1/roles). An admin
// invites someone (POST /v1/users without a password: the invitation is mailed when the server
// sends mail, else the answer carries the token and the page shows the link to hand over),
// issues a new invitation or a password-reset link, and changes a user's roles (PATCH with
// If-Match, so two admins cannot overwrite each other unseen).

import { apiError } from '../api.js';
import { errorMessage, formField, formatDateTime, h, table } from '../dom.js';

export async function render(main, ctx) {
  const zone = ctx.session().tenant.time_zone;
  const [users, roles] = await Promise.all([
    ctx.api('GET', '/v1/users?limit=200'),
    ctx.api('GET', '/v1/roles?limit=200'),
  ]);
  const roleNames = roles.items.map((r) => r.name);
  const outcome = h('div', { 'aria-live': 'polite' });
  main.append(h('h1', null, 'Users'), inviteForm(ctx, roleNames, outcome), outcome, h('h2', null, 'Everyone'));
  main.append(
    table(
      [
        { label: 'Email', value: (u) => u.email },
        { label: 'Name', value: (u) => u.display_name },
        { label: 'Status', value: (u) => u.status },
        { label: 'Roles', value: (u) => rolesCell(ctx, u, roleNames, outcome) },
        { label: 'Last sign-in', value: (u) => formatDateTime(u.last_login_at, zone) || 'Never' },
        { label: 'Link', value: (u) => linkButton(ctx, u, outcome) },
      ],
      users.items,
    ),
  );
}

function inviteForm(ctx, roleNames, outcome) {
  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'off' });
  const name = h('input', { name: 'display_name', autocomplete: 'off' });
  const picker = rolePicker('invite', roleNames, ['dispatcher'].filter((r) => roleNames.includes(r)));
  return h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'invite-title',
      'on:submit': async (event) => {
        event.preventDefault();
        try {
          const body = { email: email.value.trim(), display_name: name.value.trim(), roles: picker.chosen() };
          const created = await ctx.api('POST', '/v1/users', body);
          const link = created.invite_token ? `${location.origin}/console/accept-invite#token=${created.invite_token}` : null;
          outcome.replaceChildren(issued(`Invited ${created.email}.`, link));
          email.value = '';
          name.value = '';
        } catch (err) {
          outcome.replaceChildren(errorMessage(err));
        }
      },
    },
    h('h2', { id: 'invite-title' }, 'Invite someone'),
    formField('Email', email),
    formField('Name (optional)', name),
    picker.element,
    h('button', { type: 'submit' }, 'Invite'),
  );
}

/** What an admin hands over: the link when the server did not mail it. */
function issued(message, link) {
  if (!link) return h('p', { class: 'notice', role: 'status' }, `${message} The link was sent by email.`);
  return h(
    'div',
    { class: 'notice', role: 'status' },
    h('p', null, `${message} Send them this one-time link:`),
    h('p', { class: 'link-box' }, h('a', { href: link, class: 'issued-link' }, link)),
  );
}

/** The user's roles, and a button that turns them into checkboxes to change them. */
function rolesCell(ctx, user, roleNames, outcome) {
  const cell = h('div', { class: 'roles' });
  const show = () =>
    cell.replaceChildren(
      h('span', null, user.roles.join(', ') || '—'),
      ' ',
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Change roles of ${user.email}`, 'on:click': edit }, 'Change'),
    );
  const edit = () => {
    const picker = rolePicker(`roles-${user.id}`, roleNames, user.roles);
    const status = h('div');
    cell.replaceChildren(
      h(
        'form',
        {
          'on:submit': async (event) => {
            event.preventDefault();
            try {
              const answer = await ctx.apiRaw('PATCH', `/v1/users/${user.id}`, {
                body: { roles: picker.chosen() },
                headers: { 'If-Match': `"${user.version}"` },
              });
              if (!answer.ok) throw await apiError(answer);
              Object.assign(user, await answer.json());
              outcome.replaceChildren(h('p', { class: 'notice', role: 'status' }, `Roles of ${user.email}: ${user.roles.join(', ')}.`));
              show();
            } catch (err) {
              status.replaceChildren(errorMessage(err));
            }
          },
        },
        picker.element,
        h('button', { type: 'submit' }, 'Save roles'),
        ' ',
        h('button', { type: 'button', class: 'secondary', 'on:click': show }, 'Cancel'),
        status,
      ),
    );
  };
  show();
  return cell;
}

/** A new invitation for an invited user, a password-reset link for an active one. */
function linkButton(ctx, user, outcome) {
  const kinds = { invited: ['invitation', 'Invite again'], active: ['password-reset', 'Reset password'] };
  const kind = kinds[user.status];
  if (!kind) return '';
  return h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      'aria-label': `${kind[1]}: ${user.email}`,
      'on:click': async () => {
        try {
          const answer = await ctx.api('POST', `/v1/users/${user.id}/${kind[0]}`, {});
          outcome.replaceChildren(issued(`New link for ${user.email}.`, answer.link || null));
        } catch (err) {
          outcome.replaceChildren(errorMessage(err));
        }
      },
    },
    kind[1],
  );
}

/** Checkboxes, one per role, in a labelled fieldset; `chosen()` is the ticked names. */
function rolePicker(prefix, roleNames, ticked) {
  const boxes = roleNames.map((role) => h('input', { type: 'checkbox', value: role, id: `${prefix}-${role}`, checked: ticked.includes(role) }));
  const element = h(
    'fieldset',
    { class: 'role-picker' },
    h('legend', null, 'Roles'),
    boxes.map((box) => h('label', { for: box.id, class: 'check' }, box, ` ${box.value}`)),
  );
  return { element, chosen: () => boxes.filter((b) => b.checked).map((b) => b.value) };
}
