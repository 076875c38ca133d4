// modules.js: the modules serving this tenant (`#/modules`): per slot the bound version and
// where it comes from (the built-in default or the tenant's choice), the other versions the
// tenant may bind, a swap, a rollback to the previous binding, and the slot's shadow-run
// report when a run exists (current or last).
//
// A swap to an upload the tenant never consented to is answered 422 `consent_required` with
// the grants the version asks for; the page shows them and binds only when the admin accepts
// exactly those (the API's own consent rule: nothing is accepted on the admin's behalf).

import { h, errorMessage, formatDateTime, table } from '../dom.js';
import { fill, tenantZone, useOpsStyles } from './ops-common.js';

export async function render(main, ctx) {
  useOpsStyles();
  const zone = tenantZone(ctx.session);
  const [bindings, versions] = await Promise.all([
    ctx.api('GET', '/v1/tenant/modules'),
    ctx.api('GET', '/v1/modules'),
  ]);
  const reports = await Promise.all(
    bindings.items.map((b) =>
      ctx.api('GET', `/v1/tenant/modules/${encodeURIComponent(b.slot)}/shadow/report`).catch((error) => {
        if (error?.status === 404) return null;
        throw error;
      }),
    ),
  );
  const message = h('div', { id: 'modules-message', class: 'ops-message', 'aria-live': 'polite' });
  const reload = async (note) => {
    main.replaceChildren();
    await render(main, ctx);
    if (note) document.getElementById('modules-message')?.append(h('p', { class: 'notice', role: 'status' }, note));
  };
  const state = { ctx, message, reload };
  fill(
    main,
    h('h1', null, 'Modules'),
    message,
    table(
      [
        { label: 'Slot', value: (b) => b.slot },
        {
          label: 'Serving',
          value: (b) => h('span', { class: 'ops-serving', 'data-slot': b.slot }, `${b.version.name}@${b.version.version}`),
        },
        { label: 'Source', value: (b) => (b.source === 'builtin' ? 'Built-in default' : 'Chosen') },
        { label: 'Published', value: (b) => formatDateTime(b.version.published_at, zone) },
        {
          label: 'Change',
          value: (b) => controls(state, b, versions.items.filter((v) => v.slot === b.slot)),
        },
      ],
      bindings.items,
    ),
    h('h2', null, 'Shadow runs'),
    reports.some(Boolean)
      ? bindings.items.map((b, i) => (reports[i] ? shadowReport(b.slot, reports[i], zone) : null))
      : h('p', { class: 'empty' }, 'No slot has a shadow run.'),
  );
}

/** Swap to another version of the slot, or roll back to the one bound before. */
function controls(state, binding, versions) {
  const others = versions.filter((v) => v.digest !== binding.version.digest);
  const choice = h(
    'select',
    { 'aria-label': `Version for ${binding.slot}`, 'data-slot': binding.slot },
    others.map((v) =>
      h('option', { value: v.digest }, `${v.name}@${v.version}${v.builtin ? ' (built-in)' : ''}`),
    ),
  );
  if (!others.length && binding.source !== 'binding') return h('span', { class: 'muted' }, 'No other version');
  return h(
    'div',
    { class: 'ops-module-controls' },
    others.length
      ? h(
          'form',
          {
            'on:submit': (event) => {
              event.preventDefault();
              const version = others.find((v) => v.digest === choice.value);
              swap(state, binding.slot, version, undefined);
            },
          },
          choice,
          h('button', { type: 'submit', 'aria-label': `Swap ${binding.slot}` }, 'Swap'),
        )
      : null,
    binding.source === 'binding'
      ? h(
          'button',
          {
            type: 'button',
            'aria-label': `Roll back ${binding.slot}`,
            'on:click': async () => {
              try {
                const back = await state.ctx.api('POST', `/v1/tenant/modules/${encodeURIComponent(binding.slot)}/rollback`);
                await state.reload(`${binding.slot} rolled back to ${back.version.name}@${back.version.version}.`);
              } catch (error) {
                state.message.replaceChildren(errorMessage(error));
              }
            },
          },
          'Roll back',
        )
      : null,
  );
}

/** `PUT /v1/tenant/modules/{slot}`; on `consent_required`, asks the admin to accept. */
async function swap(state, slot, version, accept) {
  try {
    await state.ctx.api('PUT', `/v1/tenant/modules/${encodeURIComponent(slot)}`, {
      version: version.digest,
      accept,
    });
    await state.reload(`${slot} now runs ${version.name}@${version.version}.`);
  } catch (error) {
    if (error?.code === 'consent_required' && accept === undefined) {
      state.message.replaceChildren(consent(state, slot, version, error));
    } else {
      state.message.replaceChildren(errorMessage(error));
    }
  }
}

/** What the version may touch, and the admin's accept or cancel. */
function consent(state, slot, version, error) {
  const grants = error.body.grants;
  return h(
    'section',
    { class: 'ops-consent', 'aria-labelledby': 'consent-title' },
    h('h2', { id: 'consent-title' }, `${version.name}@${version.version} asks for`),
    h('p', null, error.detail),
    grantList(grants),
    h(
      'button',
      { type: 'button', 'on:click': () => swap(state, slot, version, grants) },
      'Accept and swap',
    ),
    ' ',
    h('button', { type: 'button', 'on:click': () => state.message.replaceChildren() }, 'Cancel'),
  );
}

/** Grants as nested lists: lists joined, empty ones "none". */
function grantList(value) {
  if (Array.isArray(value)) return value.length ? value.join(', ') : 'none';
  if (value && typeof value === 'object') {
    return h(
      'dl',
      { class: 'ops-grants' },
      Object.entries(value).map(([key, inner]) => [
        h('dt', null, key.replaceAll('_', ' ')),
        h('dd', null, grantList(inner)),
      ]),
    );
  }
  return value === null || value === undefined ? 'none' : String(value);
}

function shadowReport(slot, report, zone) {
  const counters = [
    ['Runs compared', report.runs],
    ['Identical', report.identical],
    ['Status differs', report.status_differs],
    ['Body differs', report.body_differs],
    ['Traps', report.traps],
    ['Route missing', report.route_missing],
    ['Skipped', report.skipped],
    ['Live mean', report.live_mean_ms == null ? '—' : `${report.live_mean_ms.toFixed(1)} ms`],
    ['Candidate mean', report.candidate_mean_ms == null ? '—' : `${report.candidate_mean_ms.toFixed(1)} ms`],
  ];
  return h(
    'section',
    { class: 'ops-shadow', 'data-slot': slot },
    h('h3', null, `${slot}: ${report.candidate.name}@${report.candidate.version} (${report.state})`),
    h(
      'p',
      null,
      `${report.sample_percent} % of requests from ${formatDateTime(report.started_at, zone)} until ${formatDateTime(report.until, zone)}.`,
    ),
    h('dl', { class: 'facts' }, counters.map(([term, value]) => [h('dt', null, term), h('dd', null, String(value))])),
    report.examples.length
      ? table(
          [
            { label: 'Kind', value: (e) => e.kind },
            { label: 'Request', value: (e) => `${e.method} ${e.path}` },
            { label: 'Live', value: (e) => String(e.live_status) },
            { label: 'Candidate', value: (e) => (e.candidate_status == null ? '—' : String(e.candidate_status)) },
            { label: 'Fields that differ', value: (e) => e.differing_paths.join(', ') || e.error || 'whole body' },
          ],
          report.examples,
        )
      : null,
  );
}
