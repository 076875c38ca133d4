// ops-common.js: what the operations pages (dispatch, routes, invoices, modules) share beyond
// the shell's api.js and dom.js: their stylesheet, reading every page of a list, names of
// technicians and customers by id, dates in the tenant's zone, and the conflicts a 409
// `assignment_conflict` carries, shown exactly as the API words them.

import { h } from '../dom.js';

/** Links `ops.css` once, beside the shell's stylesheet (a page file needs no Rust change). */
export function useOpsStyles() {
  if (document.querySelector('link[data-ops-styles]')) return;
  document.head.append(
    h('link', { rel: 'stylesheet', href: '/console/ops.css', 'data-ops-styles': '' }),
  );
}

/** Every item of a paged list (`items`, `next_cursor`), 200 at a time, at most `max`. */
export async function fetchAll(api, path, max = 2000) {
  const items = [];
  let cursor = null;
  do {
    const join = path.includes('?') ? '&' : '?';
    const page = await api(
      'GET',
      `${path}${join}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

/** The `items` of a list answer keyed by id. */
export function byId(items) {
  return new Map(items.map((item) => [item.id, item]));
}

/** Rows by id, each read once with `GET path/{id}` (missing or forbidden ones left out). */
export async function readEach(api, path, ids) {
  const unique = [...new Set(ids.filter(Boolean))];
  const rows = await Promise.all(
    unique.map((id) => api('GET', `${path}/${encodeURIComponent(id)}`).catch(() => null)),
  );
  return byId(rows.filter(Boolean));
}

/** Today's date (`YYYY-MM-DD`) in an IANA zone (the tenant's), or the browser's. */
export function today(timeZone) {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: timeZone || undefined,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).formatToParts(new Date());
  const part = (type) => parts.find((p) => p.type === type).value;
  return `${part('year')}-${part('month')}-${part('day')}`;
}

/** Whether a string is a calendar date `YYYY-MM-DD`. */
export function isDate(text) {
  return /^\d{4}-\d{2}-\d{2}$/.test(text || '') && !Number.isNaN(Date.parse(`${text}T00:00:00Z`));
}

/** `date` moved by `days` (calendar arithmetic, no time zone involved). */
export function addDays(date, days) {
  const moved = new Date(`${date}T00:00:00Z`);
  moved.setUTCDate(moved.getUTCDate() + days);
  return moved.toISOString().slice(0, 10);
}

/** `HH:MM` of an instant in a zone (a planned start, an ETA). */
export function clock(iso, timeZone) {
  if (!iso) return '';
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: timeZone || undefined,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(iso));
}

/** The tenant's IANA zone from the session, if known. */
export function tenantZone(session) {
  return session()?.tenant?.time_zone || undefined;
}

/** Whether the signed-in user holds `permission` (`*`, the owner's, holds every one). */
export function may(session, permission) {
  const held = session()?.user?.permissions || [];
  return held.includes('*') || held.includes(permission);
}

/**
 * The conflicts of a 409 `assignment_conflict` as a list: each conflict's `type` and the
 * API's own `detail`, under the technician's name. Null when the error carries none.
 */
export function conflictList(error, technicianName) {
  const conflicts = error?.body?.conflicts;
  if (!Array.isArray(conflicts) || conflicts.length === 0) return null;
  return h(
    'ul',
    { class: 'ops-conflicts', 'aria-label': 'Conflicts' },
    conflicts.map((conflict) =>
      h(
        'li',
        { 'data-conflict-type': conflict.type },
        h('strong', {}, technicianName(conflict.technician_id)),
        ` (${conflict.type}): ${conflict.detail}`,
      ),
    ),
  );
}

/** A distinct, readable colour per index (routes, legend): 4.5:1 on white. */
export const ROUTE_COLOURS = [
  '#1f5fa8',
  '#b1361e',
  '#2e7d32',
  '#7b3fa0',
  '#a65f00',
  '#00758a',
  '#c2185b',
  '#4e5d12',
  '#5d4037',
  '#37474f',
];

export function colourFor(index) {
  return ROUTE_COLOURS[index % ROUTE_COLOURS.length];
}

/** Replaces `parent`'s children, taking them as `h` does (arrays flattened, nulls skipped). */
export function fill(parent, ...children) {
  parent.replaceChildren(...h('div', null, children).childNodes);
}
