// dispatch.js: the dispatch board (`#/dispatch/<YYYY-MM-DD>`): one column per active
// technician plus "Unassigned", each holding that day's jobs with the window promised to the
// customer and, once a routing plan was applied, the planned start and end beside it.
//
// A job moves in two equal ways: dragged onto another column (a change of technician), or
// through its "Move" form (technician and window), which works by keyboard alone. Every move
// is the jobs API's own calls, in an order that never leaves a job half moved:
// - technician only: assign the new one (409 `assignment_conflict` changes nothing), then
//   take the old one off;
// - window too: take the old technician off, reschedule, assign the new one; when a later step
//   is refused, the earlier ones are undone. The API's conflicts are shown as it words them,
//   and a user holding `jobs.assign.override` may assign through them.

import { h, errorMessage, formField } from '../dom.js';
import {
  addDays,
  byId,
  clock,
  conflictList,
  fetchAll,
  isDate,
  may,
  readEach,
  today,
  tenantZone,
  useOpsStyles,
} from './ops-common.js';

const UNASSIGNED = '';

export async function render(main, ctx) {
  useOpsStyles();
  const date = isDate(ctx.params[0]) ? ctx.params[0] : today(tenantZone(ctx.session));
  const go = (day) => ctx.navigate(`#/dispatch/${day}`);
  const picker = h('input', {
    type: 'date',
    id: 'dispatch-date',
    value: date,
    'on:change': (event) => isDate(event.target.value) && go(event.target.value),
  });
  const message = h('div', { id: 'dispatch-message', class: 'ops-message', 'aria-live': 'polite' });
  const board = h('div', { class: 'ops-board', id: 'dispatch-board' });
  main.append(
    h('h1', null, 'Dispatch'),
    h(
      'div',
      { class: 'toolbar' },
      h('button', { type: 'button', 'on:click': () => go(addDays(date, -1)) }, 'Previous day'),
      formField('Date', picker),
      h('button', { type: 'button', 'on:click': () => go(addDays(date, 1)) }, 'Next day'),
    ),
    message,
    board,
  );
  const state = { ctx, date, board, message };
  await load(state);
}

/** Reads the day (technicians, jobs, who is on each) and draws the board. */
async function load(state) {
  const { api } = state.ctx;
  const technicians = await fetchAll(api, '/v1/technicians?active=true');
  const jobs = (await fetchAll(api, `/v1/jobs?from=${state.date}&to=${state.date}`)).filter(
    (job) => job.status !== 'canceled',
  );
  const days = await Promise.all(
    technicians.map((t) => api('GET', `/v1/jobs/technicians/${t.id}/day?date=${state.date}`)),
  );
  const assigned = new Map(jobs.map((job) => [job.id, []]));
  for (const day of days) {
    for (const job of day.items) assigned.get(job.id)?.push(day.technician_id);
  }
  const [customers, locations] = await Promise.all([
    readEach(api, '/v1/crm/customers', jobs.map((j) => j.customer_id)),
    readEach(api, '/v1/crm/locations', jobs.map((j) => j.location_id)),
  ]);
  Object.assign(state, { technicians: byId(technicians), jobs, assigned, customers, locations });
  draw(state);
}

function draw(state) {
  const columns = [
    ...[...state.technicians.values()].map((t) => ({ id: t.id, name: t.name })),
    { id: UNASSIGNED, name: 'Unassigned' },
  ];
  state.board.replaceChildren(
    ...columns.map((column) => {
      const cards = state.jobs
        .filter((job) => {
          const on = state.assigned.get(job.id);
          return column.id === UNASSIGNED ? on.length === 0 : on.includes(column.id);
        })
        .sort((a, b) => startOf(a).localeCompare(startOf(b)))
        .map((job) => card(state, job, column.id));
      return h(
        'section',
        {
          class: 'ops-column',
          'data-technician-id': column.id,
          'aria-label': column.name,
          'on:dragover': (event) => event.preventDefault(),
          'on:dragenter': (event) => event.currentTarget.classList.add('ops-drop'),
          'on:dragleave': (event) => event.currentTarget.classList.remove('ops-drop'),
          'on:drop': (event) => {
            event.preventDefault();
            event.currentTarget.classList.remove('ops-drop');
            const [jobId, from] = (event.dataTransfer.getData('text/plain') || '').split('|');
            const job = state.jobs.find((j) => j.id === jobId);
            if (job && from !== column.id) move(state, job, from, column.id, null);
          },
        },
        h('h2', null, column.name, h('span', { class: 'ops-count' }, ` (${cards.length})`)),
        cards.length ? cards : h('p', { class: 'empty' }, 'No jobs.'),
      );
    }),
  );
}

/** When the technician is there: the planned start once a plan was applied, else the window. */
function startOf(job) {
  return job.planned_start || job.window_start || '';
}

/** A job's card in one column (`from`: that column's technician, or unassigned). */
function card(state, job, from) {
  const customer = state.customers.get(job.customer_id);
  const location = state.locations.get(job.location_id);
  const planned = job.planned_start
    ? `${clock(job.planned_start, job.time_zone)}–${clock(job.planned_end, job.time_zone)}`
    : null;
  return h(
    'article',
    {
      class: 'ops-job',
      draggable: true,
      'data-job-id': job.id,
      'on:dragstart': (event) => {
        event.dataTransfer.setData('text/plain', `${job.id}|${from}`);
        event.dataTransfer.effectAllowed = 'move';
      },
    },
    h('h3', null, customer?.name || 'Customer'),
    location ? h('p', null, location.label || location.address?.line1 || '') : null,
    h(
      'dl',
      null,
      h('dt', null, 'Promised'),
      h(
        'dd',
        { class: 'ops-window' },
        job.window_start_local ? `${job.window_start_local}–${job.window_end_local}` : 'no window',
      ),
      planned ? [h('dt', null, 'Planned'), h('dd', { class: 'ops-planned' }, planned)] : null,
      h('dt', null, 'Status'),
      h('dd', null, job.status.replace('_', ' ')),
    ),
    moveForm(state, job, from, customer?.name || 'job'),
  );
}

/** The keyboard way to move a job: technician and window, then "Move". */
function moveForm(state, job, from, title) {
  const technician = h(
    'select',
    { name: 'technician' },
    [...state.technicians.values()].map((t) =>
      h('option', { value: t.id, selected: t.id === from }, t.name),
    ),
    h('option', { value: UNASSIGNED, selected: from === UNASSIGNED }, 'Unassigned'),
  );
  const start = clockInput(job.window_start_local, 'start');
  const end = clockInput(job.window_end_local, 'end');
  return h(
    'details',
    { class: 'ops-move' },
    h('summary', { 'aria-label': `Move ${title}` }, 'Move'),
    h(
      'form',
      {
        'on:submit': (event) => {
          event.preventDefault();
          const window =
            start.value && end.value ? { start: start.value, end: end.value } : null;
          move(state, job, from, technician.value, window);
        },
      },
      h('label', null, 'Technician ', technician),
      h('label', null, 'Window from ', start),
      h('label', null, 'Window to ', end),
      h('button', { type: 'submit' }, 'Move job'),
    ),
  );
}

/** A 24-hour `HH:MM` field, the API's own form, typed the same in every locale. */
function clockInput(value, name) {
  return h('input', {
    type: 'text',
    value: value || '',
    inputMode: 'numeric',
    pattern: '([01][0-9]|2[0-3]):[0-5][0-9]',
    placeholder: 'HH:MM',
    maxLength: 5,
    size: 5,
    title: 'A time as HH:MM, 24-hour',
    name,
  });
}

/** Moves `job` from technician `from` to `to` (either may be unassigned), and to `window`. */
async function move(state, job, from, to, window) {
  const { api } = state.ctx;
  const path = `/v1/jobs/${job.id}`;
  const timeChanged =
    window && (window.start !== job.window_start_local || window.end !== job.window_end_local);
  const techChanged = to !== from;
  if (!timeChanged && !techChanged) return;
  const undo = [];
  const schedule = (w) =>
    api('POST', `${path}/schedule`, {
      scheduled_date: state.date,
      window_start_local: w.start,
      window_end_local: w.end,
    });
  try {
    if (!timeChanged) {
      if (to !== UNASSIGNED) await assign(api, job, to);
      if (from !== UNASSIGNED) await api('DELETE', `${path}/assignments/${from}`);
    } else {
      if (techChanged && from !== UNASSIGNED) {
        await api('DELETE', `${path}/assignments/${from}`);
        undo.push(() => assign(api, job, from));
      }
      await schedule(window);
      if (job.window_start_local) {
        const old = { start: job.window_start_local, end: job.window_end_local };
        undo.push(() => schedule(old));
      }
      if (techChanged && to !== UNASSIGNED) await assign(api, job, to);
    }
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => {});
    await load(state);
    showRefusal(state, error, job, to, from);
    return;
  }
  await load(state);
  const name = to === UNASSIGNED ? 'Unassigned' : state.technicians.get(to)?.name;
  state.message.replaceChildren(
    h('p', { class: 'notice', role: 'status' }, `Moved the job to ${name}${timeChanged ? `, ${window.start}–${window.end}` : ''}.`),
  );
}

function assign(api, job, technician) {
  return api('POST', `/v1/jobs/${job.id}/assignments`, { technician_ids: [technician] });
}

/** The API's refusal, its conflicts listed, and "Assign anyway" to those who may override. */
function showRefusal(state, error, job, to, from) {
  const name = (id) => state.technicians.get(id)?.name || id;
  const overridable =
    error?.code === 'assignment_conflict' &&
    to !== UNASSIGNED &&
    may(state.ctx.session, 'jobs.assign.override');
  const reason = h('input', { type: 'text', maxLength: 500, 'aria-label': 'Reason for the override' });
  state.message.replaceChildren(
    h(
      'div',
      { class: 'ops-refusal' },
      errorMessage(error),
      conflictList(error, name),
      overridable
        ? h(
            'form',
            {
              class: 'ops-override',
              'on:submit': async (event) => {
                event.preventDefault();
                try {
                  await state.ctx.api('POST', `/v1/jobs/${job.id}/assignments/override`, {
                    technician_ids: [to],
                    reason: reason.value || undefined,
                  });
                  if (from !== UNASSIGNED) {
                    await state.ctx.api('DELETE', `/v1/jobs/${job.id}/assignments/${from}`);
                  }
                  await load(state);
                  state.message.replaceChildren(
                    h('p', { class: 'notice', role: 'status' }, `Assigned to ${name(to)} despite the conflicts.`),
                  );
                } catch (again) {
                  state.message.replaceChildren(errorMessage(again));
                }
              },
            },
            h('label', null, 'Reason ', reason),
            h('button', { type: 'submit' }, 'Assign anyway'),
          )
        : null,
    ),
  );
  state.message.querySelector('[role="alert"]')?.focus?.();
}
