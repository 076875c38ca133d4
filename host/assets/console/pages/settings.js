// pages/settings.js: the company account (GET /v1/account, served by the accounts module),
// changed with PATCH and If-Match (the ETag of what the form shows: a change made meanwhile by
// someone else is refused with 412, not overwritten). The form is drawn from the account's own
// fields, so a field the module adds shows up without a console change: text, numbers and
// yes/no as inputs, colours as colour pickers, structured fields (address, business hours, tax
// defaults) as JSON. Only the fields the user changed are sent. The logo is uploaded with
// PUT /v1/account/logo. A company without the module is told so.

import { ApiError, apiError } from '../api.js';
import { errorMessage, formField, h } from '../dom.js';

const READ_ONLY = ['id', 'version', 'tenant_id', 'created_at', 'updated_at', 'logo', 'logo_url', 'has_logo', 'logo_content_type'];
const COLOUR = /^#[0-9a-fA-F]{6}$/;

export async function render(main, ctx) {
  main.append(h('h1', null, 'Company settings'));
  const answer = await ctx.apiRaw('GET', '/v1/account');
  if (answer.status === 404) {
    main.append(h('p', { class: 'notice' }, 'Company settings need the accounts module, which this company does not run yet.'));
    return;
  }
  if (!answer.ok) throw await apiError(answer);
  let etag = answer.headers.get('ETag');
  const account = await answer.json();
  const canChange = ctx.session().user.permissions.includes('settings.manage');
  const status = h('div', { 'aria-live': 'polite' });
  const fields = Object.entries(account)
    .filter(([name]) => !READ_ONLY.includes(name))
    .map(([name, value]) => field(name, value, !canChange));
  const form = h(
    'form',
    {
      class: 'card settings',
      'on:submit': async (event) => {
        event.preventDefault();
        try {
          const changes = {};
          for (const f of fields) {
            const value = f.read();
            if (JSON.stringify(value) !== JSON.stringify(account[f.name])) changes[f.name] = value;
          }
          if (!Object.keys(changes).length) {
            status.replaceChildren(h('p', { class: 'notice', role: 'status' }, 'Nothing changed.'));
            return;
          }
          const saved = await ctx.apiRaw('PATCH', '/v1/account', { body: changes, headers: etag ? { 'If-Match': etag } : {} });
          if (!saved.ok) throw await apiError(saved);
          etag = saved.headers.get('ETag');
          Object.assign(account, await saved.json());
          status.replaceChildren(h('p', { class: 'notice', role: 'status' }, 'Saved.'));
        } catch (err) {
          status.replaceChildren(
            err instanceof ApiError && err.status === 412
              ? h('div', { role: 'alert', class: 'alert' }, 'Someone changed these settings meanwhile. Reload the page to see their change, then make yours again.')
              : errorMessage(err),
          );
        }
      },
    },
    fields.map((f) => f.element),
    status,
    canChange ? h('button', { type: 'submit' }, 'Save settings') : h('p', { class: 'muted' }, 'Only people who may manage settings can change these.'),
  );
  main.append(form, await logo(ctx, canChange));
}

/** One input for the account field `name`, and how to read its value back. */
function field(name, value, readOnly) {
  const label = name.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
  let input;
  let read;
  if (typeof value === 'boolean') {
    input = h('input', { type: 'checkbox', name, checked: value, disabled: readOnly });
    read = () => input.checked;
  } else if (typeof value === 'number') {
    input = h('input', { type: 'number', name, value: String(value), step: 'any', readOnly });
    read = () => (input.value === '' ? null : Number(input.value));
  } else if (value !== null && typeof value === 'object') {
    input = h('textarea', { name, rows: 4, readOnly, spellcheck: false, value: JSON.stringify(value, null, 2) });
    read = () => {
      try {
        return JSON.parse(input.value);
      } catch {
        throw new ApiError(422, { title: 'Not valid JSON', detail: `${label}: write it as JSON, as shown.` });
      }
    };
  } else if (typeof value === 'string' && COLOUR.test(value)) {
    input = h('input', { type: 'color', name, value, disabled: readOnly });
    read = () => input.value;
  } else {
    input = h('input', { name, value: value ?? '', readOnly });
    read = () => (input.value === '' && value === null ? null : input.value);
  }
  const hint = value !== null && typeof value === 'object' ? 'JSON' : null;
  return { name, element: formField(label, input, hint), read };
}

async function logo(ctx, canChange) {
  const section = h('section', { class: 'card', 'aria-labelledby': 'logo-title' }, h('h2', { id: 'logo-title' }, 'Logo'));
  const picture = h('div');
  const show = async () => {
    const answer = await ctx.apiRaw('GET', '/v1/account/logo');
    if (!answer.ok) return picture.replaceChildren(h('p', { class: 'muted' }, 'No logo yet.'));
    const url = URL.createObjectURL(await answer.blob());
    picture.replaceChildren(h('img', { src: url, alt: 'The company logo', class: 'logo' }));
  };
  await show();
  section.append(picture);
  if (canChange) {
    const file = h('input', { type: 'file', accept: 'image/png,image/jpeg' });
    const status = h('div', { 'aria-live': 'polite' });
    section.append(
      formField('Upload a logo (PNG or JPEG)', file),
      h(
        'button',
        {
          type: 'button',
          'on:click': async () => {
            const chosen = file.files[0];
            if (!chosen) return;
            const answer = await ctx.apiRaw('PUT', '/v1/account/logo', { body: chosen, headers: { 'Content-Type': chosen.type } });
            if (!answer.ok) return status.replaceChildren(errorMessage(await apiError(answer)));
            status.replaceChildren(h('p', { class: 'notice', role: 'status' }, 'Logo saved.'));
            await show();
          },
        },
        'Upload logo',
      ),
      status,
    );
  }
  return section;
}
