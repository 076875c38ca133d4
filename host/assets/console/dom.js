// dom.js: building the page without a framework and without innerHTML, so data is always text.
//
// h(tag, attrs, ...children) conventions for `attrs`:
//   - `on:<event>`: an event listener, e.g. { 'on:click': () => save() };
//   - `class`, `for`, `role`, `aria-*`, `data-*`, and any name with a dash: set as attributes;
//   - everything else (`value`, `type`, `checked`, `disabled`, `id`, `hidden`, ...): set as a
//     property; null, undefined and false values are skipped.
// children: nodes, strings or numbers (text nodes), arrays (flattened), null/false (skipped).
// An `svg` tag and its children are made in the SVG namespace (use h.svg for children).

const SVG = 'http://www.w3.org/2000/svg';

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children, false);
}

/** An SVG element: every attribute is set as an attribute. */
h.svg = function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children, true);
};

function build(element, attrs, children, svg) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on:')) {
      element.addEventListener(key.slice(3), value);
    } else if (svg || key === 'class' || key === 'for' || key === 'role' || key.includes('-')) {
      element.setAttribute(key, value === true ? '' : String(value));
    } else {
      element[key] = value;
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.append(child);
    else element.append(document.createTextNode(String(child)));
  }
}

/** An alert with an error's title, detail and field errors (ApiError or any Error). */
export function errorMessage(err) {
  const title = err?.title || 'Something went wrong';
  const detail = err?.detail ?? err?.message ?? String(err);
  const fields = (err?.errors || []).map((e) =>
    h('li', null, e.field ? h('strong', null, e.field, ': ') : null, e.message || e.code || ''),
  );
  return h(
    'div',
    { class: 'alert', role: 'alert' },
    h('strong', null, title),
    detail && detail !== title ? h('p', null, detail) : null,
    fields.length ? h('ul', null, fields) : null,
  );
}

/** A table; `columns` = [{ label, value: row => node | string }]. */
export function table(columns, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      null,
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
      h(
        'tbody',
        null,
        rows.length
          ? rows.map((row) => h('tr', null, columns.map((c) => h('td', { 'data-label': c.label }, c.value(row)))))
          : h('tr', null, h('td', { colSpan: columns.length, class: 'empty' }, 'Nothing here yet.')),
      ),
    ),
  );
}

/** A labelled form field: the input gets an id and the label points at it. */
let fieldCount = 0;
export function formField(label, input, hint) {
  if (!input.id) input.id = `field-${++fieldCount}`;
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hint ? h('small', null, hint) : null);
}

/** Money in minor units (cents) in its currency, in the browser's locale. */
export function formatMoney(minor, currency = 'USD') {
  if (minor === null || minor === undefined) return '';
  const digits = new Intl.NumberFormat(undefined, { style: 'currency', currency }).resolvedOptions()
    .maximumFractionDigits;
  return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(minor / 10 ** digits);
}

/** A date (no time) in the given time zone (the tenant's). */
export function formatDate(iso, timeZone) {
  if (!iso) return '';
  // A bare date (2026-12-07) is a calendar day, not an instant: show it as it is.
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) {
    return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(`${iso}T00:00:00Z`));
  }
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone }).format(new Date(iso));
}

/** A date and time in the given time zone (the tenant's). */
export function formatDateTime(iso, timeZone) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(new Date(iso));
}
