// routes.js: route planning (`#/routes/<YYYY-MM-DD>`): run the routing module's optimisation
// for a day, see the plan drawn on an SVG map of the job coordinates (no map tiles: latitude
// and longitude scaled into the box, one colour per technician, numbered stops, a legend),
// the jobs it could not serve with the solver's reason, the totals, and apply it.
//
// The plan names stops by job id only, so the map reads each job's CRM location and each
// technician's home (where a route starts and ends) through the public API. The same routes
// are listed as text below the map for those who cannot see it.

import { h, errorMessage, formField, formatDateTime } from '../dom.js';
import {
  addDays,
  clock,
  colourFor,
  fill,
  isDate,
  readEach,
  today,
  tenantZone,
  useOpsStyles,
} from './ops-common.js';

const WIDTH = 640;
const HEIGHT = 420;
const MARGIN = 28;

export async function render(main, ctx) {
  useOpsStyles();
  const zone = tenantZone(ctx.session);
  const date = isDate(ctx.params[0]) ? ctx.params[0] : today(zone);
  const go = (day) => ctx.navigate(`#/routes/${day}`);
  const budget = h(
    'select',
    { id: 'routes-budget' },
    h('option', { value: '1000' }, '1 second'),
    h('option', { value: '2000', selected: true }, '2 seconds'),
    h('option', { value: '5000' }, '5 seconds'),
  );
  const message = h('div', { id: 'routes-message', class: 'ops-message', 'aria-live': 'polite' });
  const view = h('div', { id: 'routes-plan' });
  const state = { ctx, date, zone, message, view };
  const optimise = h('button', { type: 'submit', id: 'routes-optimise' }, 'Optimise routes');
  main.append(
    h('h1', null, 'Routes'),
    h(
      'div',
      { class: 'toolbar' },
      h('button', { type: 'button', 'on:click': () => go(addDays(date, -1)) }, 'Previous day'),
      formField(
        'Date',
        h('input', {
          type: 'date',
          value: date,
          'on:change': (event) => isDate(event.target.value) && go(event.target.value),
        }),
      ),
      h('button', { type: 'button', 'on:click': () => go(addDays(date, 1)) }, 'Next day'),
    ),
    h(
      'form',
      {
        class: 'toolbar',
        'on:submit': async (event) => {
          event.preventDefault();
          optimise.disabled = true;
          message.replaceChildren(h('p', { role: 'status' }, 'Optimising…'));
          try {
            const plan = await ctx.api('POST', '/v1/routing/optimize', {
              date,
              time_budget_ms: Number(budget.value),
            });
            message.replaceChildren();
            await show(state, plan);
          } catch (error) {
            message.replaceChildren(errorMessage(error));
          } finally {
            optimise.disabled = false;
          }
        },
      },
      formField('Search time', budget),
      optimise,
    ),
    message,
    view,
  );
  const latest = await ctx.api('GET', `/v1/routing/plans?date=${date}&limit=1`);
  if (latest.items.length) {
    await show(state, await ctx.api('GET', `/v1/routing/plans/${latest.items[0].id}`));
  } else {
    view.replaceChildren(h('p', { class: 'empty' }, 'No plan for this day yet.'));
  }
}

/** Reads what the map needs (jobs, their locations and customers, technicians) and draws. */
async function show(state, plan) {
  const { api } = state.ctx;
  const jobIds = [
    ...plan.routes.flatMap((r) => r.stops.map((s) => s.job_id)),
    ...plan.unassigned.map((u) => u.job_id),
  ].filter(Boolean);
  const [jobs, technicians] = await Promise.all([
    readEach(api, '/v1/jobs', jobIds),
    readEach(api, '/v1/technicians', plan.routes.map((r) => r.technician_id)),
  ]);
  const jobRows = [...jobs.values()];
  const [locations, customers] = await Promise.all([
    readEach(api, '/v1/crm/locations', jobRows.map((j) => j.location_id)),
    readEach(api, '/v1/crm/customers', jobRows.map((j) => j.customer_id)),
  ]);
  const placeOf = (jobId) => {
    const location = locations.get(jobs.get(jobId)?.location_id);
    return location && location.latitude != null && location.longitude != null
      ? { lat: location.latitude, lng: location.longitude }
      : null;
  };
  const homeOf = (technicianId) => {
    const t = technicians.get(technicianId);
    return t && t.home_latitude != null ? { lat: t.home_latitude, lng: t.home_longitude } : null;
  };
  const nameOf = (technicianId) => technicians.get(technicianId)?.name || 'Technician';
  const customerOf = (jobId) => customers.get(jobs.get(jobId)?.customer_id)?.name || 'Job';
  const routes = plan.routes
    .filter((route) => route.jobs > 0)
    .map((route, index) => ({
      route,
      colour: colourFor(index),
      name: nameOf(route.technician_id),
      points: route.stops
        .map((stop) =>
          stop.kind === 'job'
            ? { stop, at: placeOf(stop.job_id) }
            : stop.kind === 'start' || stop.kind === 'end'
              ? { stop, at: homeOf(route.technician_id) }
              : null,
        )
        .filter((p) => p && p.at),
    }));
  const unserved = plan.unassigned.map((u) => ({ ...u, at: placeOf(u.job_id) }));

  const apply = h(
    'button',
    {
      type: 'button',
      id: 'routes-apply',
      disabled: plan.status === 'applied',
      'on:click': async () => {
        apply.disabled = true;
        try {
          await api('POST', `/v1/routing/plans/${plan.id}/apply`);
          const applied = await api('GET', `/v1/routing/plans/${plan.id}`);
          await show(state, applied);
          state.message.replaceChildren(
            h('p', { class: 'notice', role: 'status' }, 'Plan applied: the jobs are assigned and their planned times set.'),
          );
        } catch (error) {
          apply.disabled = false;
          state.message.replaceChildren(errorMessage(error));
        }
      },
    },
    'Apply plan',
  );
  const s = plan.summary;
  fill(
    state.view,
    h(
      'p',
      { class: 'ops-plan-status', 'data-plan-id': plan.id, 'data-status': plan.status },
      plan.status === 'applied'
        ? `Applied ${formatDateTime(plan.applied_at, state.zone)}.`
        : `Proposed ${formatDateTime(plan.created_at, state.zone)}; not applied yet.`,
      ' ',
      plan.status === 'applied' ? null : apply,
    ),
    h(
      'dl',
      { class: 'ops-totals' },
      total('Jobs', s.jobs),
      total('Served', s.assigned),
      total('Unserved', s.unassigned),
      total('Routes', routes.length),
      total('Distance', km(s.total_distance)),
      total('Driving', duration(s.total_travel_duration)),
    ),
    h('div', { class: 'ops-map-wrap' }, map(routes, unserved), legend(routes)),
    h('h2', null, 'Stops'),
    routes.map(({ route, colour, name }) =>
      h(
        'section',
        { class: 'ops-route-list' },
        h('h3', null, h('span', { class: 'ops-swatch', 'data-colour': colour }), name),
        h(
          'ol',
          null,
          route.stops
            .filter((stop) => stop.kind === 'job')
            .map((stop) =>
              h('li', null, `${clock(stop.start_at, state.zone)} ${customerOf(stop.job_id)}`),
            ),
        ),
      ),
    ),
    h('h2', null, 'Unserved jobs'),
    unserved.length
      ? h(
          'ul',
          { id: 'routes-unserved' },
          unserved.map((u) => h('li', null, `${customerOf(u.job_id)}: ${u.reason.replaceAll('_', ' ')}`)),
        )
      : h('p', { class: 'empty' }, 'Every job is served.'),
  );
  paintSwatches(state.view);
}

function total(label, value) {
  return h('div', null, h('dt', null, label), h('dd', null, String(value)));
}

function km(metres) {
  return `${(metres / 1000).toFixed(1)} km`;
}

function duration(seconds) {
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/**
 * The map: every point scaled into the box (longitude shrunk by the cosine of the mean
 * latitude, so distances look right), a path per route, its stops numbered in visit order,
 * homes as squares, unserved jobs as hollow grey circles.
 */
function map(routes, unserved) {
  const points = [...routes.flatMap((r) => r.points.map((p) => p.at)), ...unserved.map((u) => u.at)].filter(Boolean);
  const shape = h.svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: 'ops-map',
    role: 'img',
    'aria-label': `Map of ${routes.length} routes`,
  });
  if (!points.length) return shape;
  const meanLat = points.reduce((sum, p) => sum + p.lat, 0) / points.length;
  const squeeze = Math.cos((meanLat * Math.PI) / 180);
  const xs = points.map((p) => p.lng * squeeze);
  const ys = points.map((p) => p.lat);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min(
    (WIDTH - 2 * MARGIN) / Math.max(maxX - minX, 1e-6),
    (HEIGHT - 2 * MARGIN) / Math.max(maxY - minY, 1e-6),
  );
  const offsetX = (WIDTH - (maxX - minX) * scale) / 2;
  const offsetY = (HEIGHT - (maxY - minY) * scale) / 2;
  const project = (p) => [
    (offsetX + (p.lng * squeeze - minX) * scale).toFixed(1),
    (HEIGHT - offsetY - (p.lat - minY) * scale).toFixed(1),
  ];
  shape.append(h.svg('rect', { x: 0, y: 0, width: WIDTH, height: HEIGHT, class: 'ops-map-ground' }));
  for (const { route, colour, points: stops } of routes) {
    const d = stops.map((p, i) => `${i ? 'L' : 'M'}${project(p.at).join(' ')}`).join(' ');
    shape.append(
      h.svg('path', {
        d,
        class: 'ops-route',
        stroke: colour,
        fill: 'none',
        'data-technician-id': route.technician_id,
      }),
    );
  }
  for (const { route, colour, points: stops } of routes) {
    const home = stops.find((p) => p.stop.kind === 'start');
    if (home) {
      const [x, y] = project(home.at);
      shape.append(
        h.svg('rect', { x: x - 6, y: y - 6, width: 12, height: 12, fill: colour, class: 'ops-home' }),
      );
    }
    let number = 0;
    for (const { stop, at } of stops) {
      if (stop.kind !== 'job') continue;
      number += 1;
      const [x, y] = project(at);
      shape.append(
        h.svg(
          'g',
          { class: 'ops-stop', 'data-job-id': stop.job_id, 'data-technician-id': route.technician_id },
          h.svg('circle', { cx: x, cy: y, r: 10, fill: colour }),
          h.svg('text', { x, y, dy: '0.35em', 'text-anchor': 'middle', class: 'ops-stop-number' }, String(number)),
        ),
      );
    }
  }
  for (const u of unserved) {
    if (!u.at) continue;
    const [x, y] = project(u.at);
    shape.append(
      h.svg('circle', { cx: x, cy: y, r: 8, class: 'ops-unserved', 'data-job-id': u.job_id }),
    );
  }
  return shape;
}

function legend(routes) {
  return h(
    'ul',
    { class: 'ops-legend', 'aria-label': 'Legend' },
    routes.map(({ route, colour, name }) =>
      h(
        'li',
        null,
        h('span', { class: 'ops-swatch', 'data-colour': colour }),
        `${name}: ${route.jobs} ${route.jobs === 1 ? 'job' : 'jobs'}, ${km(route.distance)}`,
      ),
    ),
    h('li', null, h('span', { class: 'ops-swatch ops-swatch-unserved' }), 'Unserved job'),
    h('li', null, h('span', { class: 'ops-swatch ops-swatch-home' }), 'Home (start and end)'),
  );
}

/** Swatch colours through the CSSOM: the strict policy refuses inline `style` attributes. */
function paintSwatches(root) {
  for (const swatch of root.querySelectorAll('.ops-swatch[data-colour]')) {
    swatch.style.backgroundColor = swatch.dataset.colour;
  }
}
