// invoices.js: the billing module's invoices. `#/invoices?status=open` lists them (filtered
// by status, a page at a time); `#/invoices/<id>` shows one: its lines and totals, its
// payments, its PDF and a form to record a payment received outside Stripe (cash, check,
// bank transfer).
//
// The PDF is fetched through `apiRaw` (the bearer token never goes into a URL) and offered
// as a `blob:` link with a `download` name; the page notes its type, size and first bytes
// on the link so a reader (and the browser tests) can tell it is a PDF.

import { ApiError } from '../api.js';
import { h, errorMessage, formField, formatDate, formatMoney, table } from '../dom.js';
import { fill, readEach, tenantZone, today, useOpsStyles } from './ops-common.js';

const STATUSES = ['draft', 'open', 'paid', 'void', 'uncollectible'];
const PAYABLE = ['open', 'uncollectible'];
const METHODS = [
  ['cash', 'Cash'],
  ['check', 'Check'],
  ['bank_transfer', 'Bank transfer'],
];

/** The object URL of the last PDF offered, released when the next one is made. */
let pdfUrl = null;

export async function render(main, ctx) {
  useOpsStyles();
  if (ctx.params[0]) return detail(main, ctx, ctx.params[0]);
  return list(main, ctx);
}

async function list(main, ctx) {
  const status = STATUSES.includes(ctx.query?.get('status')) ? ctx.query.get('status') : '';
  const zone = tenantZone(ctx.session);
  const filter = h(
    'select',
    {
      id: 'invoices-status',
      'on:change': (event) =>
        ctx.navigate(event.target.value ? `#/invoices?status=${event.target.value}` : '#/invoices'),
    },
    h('option', { value: '', selected: !status }, 'All'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, label(s))),
  );
  const rows = h('div', { id: 'invoices-list' });
  const more = h('button', { type: 'button', hidden: true }, 'Show more');
  main.append(h('h1', null, 'Invoices'), h('div', { class: 'toolbar' }, formField('Status', filter)), rows, more);
  const shown = [];
  let cursor = null;
  const next = async () => {
    const query = new URLSearchParams({ limit: '50' });
    if (status) query.set('status', status);
    if (cursor) query.set('cursor', cursor);
    const page = await ctx.api('GET', `/v1/billing/invoices?${query}`);
    shown.push(...page.items);
    cursor = page.next_cursor;
    const customers = await readEach(ctx.api, '/v1/crm/customers', shown.map((i) => i.customer_id));
    rows.replaceChildren(
      table(
        [
          {
            label: 'Invoice',
            value: (i) => h('a', { href: `#/invoices/${i.id}`, 'data-invoice-id': i.id }, i.number || 'Draft'),
          },
          { label: 'Customer', value: (i) => customers.get(i.customer_id)?.name || '' },
          { label: 'Status', value: (i) => h('span', { class: `ops-status ops-status-${i.status}` }, label(i.status)) },
          { label: 'Issued', value: (i) => formatDate(i.issue_date, zone) },
          { label: 'Due date', value: (i) => formatDate(i.due_date, zone) },
          { label: 'Total', value: (i) => formatMoney(i.total_minor, i.currency) },
          { label: 'Amount due', value: (i) => formatMoney(i.amount_due_minor, i.currency) },
        ],
        shown,
      ),
    );
    more.hidden = !cursor;
  };
  more.addEventListener('click', () => next().catch((error) => rows.append(errorMessage(error))));
  await next();
}

async function detail(main, ctx, id) {
  const zone = tenantZone(ctx.session);
  const invoice = await ctx.api('GET', `/v1/billing/invoices/${encodeURIComponent(id)}`);
  const [customer, payments] = await Promise.all([
    ctx.api('GET', `/v1/crm/customers/${invoice.customer_id}`).catch(() => null),
    ctx.api('GET', `/v1/billing/payments?invoice_id=${invoice.id}&limit=200`),
  ]);
  const money = (minor) => formatMoney(minor, invoice.currency);
  const pdf = h('p', { id: 'invoice-pdf' }, 'Preparing the PDF…');
  fill(
    main,
    h('p', null, h('a', { href: '#/invoices' }, 'All invoices')),
    h('h1', null, invoice.number ? `Invoice ${invoice.number}` : 'Draft invoice'),
    h(
      'dl',
      { class: 'facts', id: 'invoice-summary' },
      pair('Customer', customer?.name || invoice.customer_id),
      pair('Status', h('span', { class: `ops-status ops-status-${invoice.status}` }, label(invoice.status))),
      pair('Issued', formatDate(invoice.issue_date, zone) || '—'),
      pair('Due date', formatDate(invoice.due_date, zone) || '—'),
      pair('Total', money(invoice.total_minor)),
      pair('Paid', money(invoice.amount_paid_minor)),
      pair('Amount due', h('span', { id: 'invoice-amount-due' }, money(invoice.amount_due_minor))),
    ),
    pdf,
    h('h2', null, 'Lines'),
    table(
      [
        { label: 'Description', value: (l) => l.description },
        { label: 'Quantity', value: (l) => String(l.quantity_milli / 1000) },
        { label: 'Unit price', value: (l) => money(l.unit_price_minor) },
        { label: 'Tax', value: (l) => money(l.tax_minor) },
        { label: 'Total', value: (l) => money(l.total_minor) },
      ],
      invoice.lines || [],
    ),
    h('h2', null, 'Payments'),
    table(
      [
        { label: 'Received', value: (p) => formatDate(p.received_on, zone) },
        { label: 'Method', value: (p) => label(p.method) },
        { label: 'Amount', value: (p) => money(p.amount_minor) },
        { label: 'Reference', value: (p) => p.reference || '' },
      ],
      payments.items,
    ),
    PAYABLE.includes(invoice.status)
      ? paymentForm(ctx, invoice, zone, () => {
          main.replaceChildren();
          return detail(main, ctx, id);
        })
      : null,
  );
  await offerPdf(ctx, invoice, pdf);
}

/** Fetches the PDF and replaces `slot` with a download link to it (or the API's error). */
async function offerPdf(ctx, invoice, slot) {
  try {
    const answer = await ctx.apiRaw('GET', `/v1/billing/invoices/${invoice.id}.pdf`, {
      headers: { Accept: 'application/pdf' },
    });
    if (!answer.ok) throw new ApiError(answer.status, await answer.json().catch(() => null));
    const blob = await answer.blob();
    const magic = new TextDecoder().decode(await blob.slice(0, 5).arrayBuffer());
    if (pdfUrl) URL.revokeObjectURL(pdfUrl);
    pdfUrl = URL.createObjectURL(blob);
    const name = `${invoice.number || 'draft-invoice'}.pdf`;
    slot.replaceChildren(
      h(
        'a',
        {
          href: pdfUrl,
          download: name,
          id: 'invoice-pdf-link',
          'data-content-type': blob.type,
          'data-bytes': String(blob.size),
          'data-magic': magic,
        },
        `Download ${name}`,
      ),
      ` (PDF, ${Math.max(1, Math.round(blob.size / 1024))} KB)`,
    );
  } catch (error) {
    slot.replaceChildren(errorMessage(error));
  }
}

/** Record a payment received outside Stripe; the amount is typed in major units. */
function paymentForm(ctx, invoice, zone, reload) {
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency: invoice.currency })
    .resolvedOptions().maximumFractionDigits;
  const amount = h('input', {
    type: 'text',
    inputMode: 'decimal',
    id: 'payment-amount',
    value: (invoice.amount_due_minor / 10 ** digits).toFixed(digits),
    required: true,
  });
  const method = h('select', { id: 'payment-method' }, METHODS.map(([value, text]) => h('option', { value }, text)));
  const received = h('input', { type: 'date', id: 'payment-received', value: today(zone) });
  const reference = h('input', { type: 'text', id: 'payment-reference', maxLength: 200 });
  const outcome = h('div', { class: 'ops-message', 'aria-live': 'polite' });
  return h(
    'form',
    {
      class: 'ops-form',
      id: 'payment-form',
      'on:submit': async (event) => {
        event.preventDefault();
        const minor = toMinor(amount.value, digits);
        if (minor === null) {
          outcome.replaceChildren(
            errorMessage({
              title: 'Check the amount',
              detail: `Enter an amount such as ${(1234.5).toFixed(digits)}.`,
            }),
          );
          return;
        }
        try {
          await ctx.api('POST', `/v1/billing/invoices/${invoice.id}/payments`, {
            amount_minor: minor,
            currency: invoice.currency,
            method: method.value,
            received_on: received.value || undefined,
            reference: reference.value,
          });
        } catch (error) {
          outcome.replaceChildren(errorMessage(error));
          return;
        }
        try {
          await reload();
          document.getElementById('invoice-amount-due')?.closest('dl')?.before(
            h('p', { class: 'notice', role: 'status' }, 'Payment recorded.'),
          );
        } catch (error) {
          outcome.replaceChildren(errorMessage(error));
        }
      },
    },
    h('h2', null, 'Record a payment'),
    formField(`Amount (${invoice.currency})`, amount),
    formField('Method', method),
    formField('Received on', received),
    formField('Reference', reference, 'Check number or transfer reference (optional)'),
    h('button', { type: 'submit' }, 'Record payment'),
    outcome,
  );
}

/** `12.5` in a currency of `digits` decimals as minor units, or null when it is no amount. */
function toMinor(text, digits) {
  const trimmed = text.trim().replace(/,/g, '');
  const match = new RegExp(`^(\\d+)(?:\\.(\\d{0,${digits}}))?$`).exec(trimmed);
  if (!match) return null;
  const fraction = (match[2] || '').padEnd(digits, '0');
  return Number(match[1]) * 10 ** digits + Number(fraction || 0);
}

function pair(term, value) {
  return [h('dt', null, term), h('dd', null, value)];
}

function label(code) {
  const text = String(code || '').replaceAll('_', ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
