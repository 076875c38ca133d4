// pages/customers.js: `#/customers?q=&status=&sort=&cursor=` searches the CRM's customers
// (GET /v1/crm/customers with the same parameters, a page at a time); `#/customers/<id>` is one
// customer with their service locations (GET /v1/crm/customers/<id>/locations) and job history
// (GET /v1/jobs?customer_id=<id>, when the company runs the jobs module).

import { ApiError } from '../api.js';
import { errorMessage, formField, formatDate, formatMoney, h, table } from '../dom.js';

const PAGE_SIZE = 25;

export async function render(main, ctx) {
  if (ctx.params[0]) return detail(main, ctx, ctx.params[0]);
  return list(main, ctx);
}

async function list(main, ctx) {
  const q = ctx.query.get('q') || '';
  const status = ctx.query.get('status') || '';
  const sort = ctx.query.get('sort') || 'name';
  const search = h('input', { type: 'search', name: 'q', value: q, placeholder: 'Name, email or phone' });
  const statusSelect = select('status', status, [['', 'Any'], ['active', 'Active'], ['lead', 'Lead'], ['inactive', 'Inactive']]);
  const sortSelect = select('sort', sort, [['name', 'Name A–Z'], ['-name', 'Name Z–A'], ['-created_at', 'Newest'], ['created_at', 'Oldest']]);
  const form = h(
    'form',
    {
      class: 'toolbar',
      role: 'search',
      'on:submit': (event) => {
        event.preventDefault();
        ctx.navigate(`#/customers?${params({ q: search.value.trim(), status: statusSelect.value, sort: sortSelect.value })}`);
      },
    },
    formField('Search customers', search),
    formField('Status', statusSelect),
    formField('Sort', sortSelect),
    h('button', { type: 'submit' }, 'Search'),
  );
  main.append(h('h1', null, 'Customers'), form);
  const query = params({ q, status, sort, limit: PAGE_SIZE, cursor: ctx.query.get('cursor') });
  const page = await ctx.api('GET', `/v1/crm/customers?${query}`);
  main.append(
    table(
      [
        { label: 'Name', value: (c) => h('a', { href: `#/customers/${encodeURIComponent(c.id)}` }, c.name) },
        { label: 'Email', value: (c) => c.email || '' },
        { label: 'Phone', value: (c) => c.phone || '' },
        { label: 'Status', value: (c) => c.status },
        { label: 'Balance', value: (c) => formatMoney(c.balance_minor, c.currency) },
      ],
      page.items,
    ),
  );
  const pager = h('div', { class: 'pager' });
  if (ctx.query.get('cursor')) pager.append(h('a', { href: `#/customers?${params({ q, status, sort })}` }, 'First page'));
  if (page.next_cursor) {
    pager.append(h('a', { href: `#/customers?${params({ q, status, sort, cursor: page.next_cursor })}` }, 'Next page'));
  }
  main.append(pager);
}

async function detail(main, ctx, id) {
  const zone = ctx.session().tenant.time_zone;
  const path = `/v1/crm/customers/${encodeURIComponent(id)}`;
  const customer = await ctx.api('GET', path);
  main.append(
    h('p', null, h('a', { href: '#/customers' }, '← All customers')),
    h('h1', null, customer.name),
    h(
      'dl',
      { class: 'facts card' },
      fact('Kind', customer.kind),
      fact('Status', customer.status),
      fact('Email', customer.email),
      fact('Phone', customer.phone),
      fact('Tags', (customer.tags || []).join(', ')),
      fact('Balance', formatMoney(customer.balance_minor, customer.currency)),
      fact('Customer since', formatDate(customer.created_at, zone)),
      fact('Notes', customer.notes),
    ),
    h('h2', null, 'Locations'),
  );
  const locations = await ctx.api('GET', `${path}/locations?limit=100`);
  main.append(
    table(
      [
        { label: 'Label', value: (l) => l.label },
        { label: 'Address', value: (l) => l.address_text },
        { label: 'Coordinates', value: (l) => (l.latitude == null ? '' : `${l.latitude.toFixed(4)}, ${l.longitude.toFixed(4)}`) },
        { label: 'Access notes', value: (l) => l.access_notes },
      ],
      locations.items,
    ),
    h('h2', null, 'Job history'),
  );
  const places = new Map(locations.items.map((l) => [l.id, l.label || l.address_text]));
  main.append(await history(ctx, id, places));
}

async function history(ctx, customerId, places) {
  let jobs;
  try {
    jobs = await ctx.api('GET', `/v1/jobs?${params({ customer_id: customerId, limit: 100 })}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return h('p', { class: 'muted' }, 'This company does not run the jobs module.');
    return errorMessage(err);
  }
  const newestFirst = [...jobs.items].reverse();
  return table(
    [
      { label: 'Date', value: (j) => (j.scheduled_date ? formatDate(j.scheduled_date) : 'Unscheduled') },
      { label: 'Window', value: (j) => (j.window_start_local ? `${j.window_start_local}–${j.window_end_local}` : '') },
      { label: 'Location', value: (j) => places.get(j.location_id) || '' },
      { label: 'Status', value: (j) => j.status.replace('_', ' ') },
      { label: 'Notes', value: (j) => j.notes || '' },
    ],
    newestFirst,
  );
}

function fact(label, value) {
  return value === null || value === undefined || value === '' ? null : [h('dt', null, label), h('dd', null, String(value))];
}

function select(name, value, options) {
  return h('select', { name }, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

/** A query string of the non-empty values. */
function params(values) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value !== null && value !== undefined && value !== '') query.set(key, value);
  }
  return query;
}
