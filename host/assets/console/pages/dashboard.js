// pages/dashboard.js: the signed-in user's dashboard. GET /v1/layouts/mine gives their layout
// (their own default, their role's, or the built-in one); each widget's metric comes from
// GET /v1/kpis over the widget's last `range_days` days of the tenant's calendar, drawn as a
// number or a small hand-written SVG chart on the layout's 12-column grid.
//
// A number widget shows the whole range: counts and amounts summed, rates and averages as the
// sum of their numerators over the sum of their denominators, and the snapshot metrics (MRR,
// ARR, days sales outstanding) at the range's end.

import { ApiError } from '../api.js';
import { errorMessage, formatMoney, h, table } from '../dom.js';

const LABELS = {
  jobs_completed: 'Jobs completed',
  jobs_per_technician_per_day: 'Jobs per technician per day',
  cancellation_rate: 'Cancellation rate',
  technician_utilisation: 'Technician utilisation',
  reschedule_rate: 'Reschedule rate',
  on_time_arrival_rate: 'On-time arrival rate',
  travel_distance_per_job: 'Travel distance per job',
  revenue: 'Revenue',
  average_ticket: 'Average ticket',
  revenue_per_job: 'Revenue per job',
  mrr: 'Monthly recurring revenue',
  arr: 'Annual recurring value',
  agreement_churn: 'Agreement churn',
  days_sales_outstanding: 'Days sales outstanding',
};
const SNAPSHOTS = ['mrr', 'arr', 'days_sales_outstanding'];
const SOURCES = { own: 'Your layout', role: 'Your role’s default layout', builtin: 'The default layout' };

export async function render(main, ctx) {
  main.append(h('h1', null, 'Dashboard'));
  let mine;
  try {
    mine = await ctx.api('GET', '/v1/layouts/mine');
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      main.append(h('p', { class: 'notice' }, 'Dashboards need the layouts module, which this company does not run.'));
      return;
    }
    throw err;
  }
  const layout = mine.layout;
  const zone = ctx.session().tenant.time_zone;
  main.append(h('p', { class: 'muted' }, `${layout.name} · ${SOURCES[mine.source] || ''}`));
  const grid = h('div', { class: 'widgets' });
  main.append(grid);
  const answers = fetchAll(ctx, layout.widgets, zone);
  await Promise.all(
    layout.widgets.map(async (widget, i) => {
      const cell = h('section', { class: 'widget', 'aria-labelledby': `widget-${i}` });
      cell.style.gridColumn = `${widget.x + 1} / span ${widget.w}`;
      cell.style.gridRow = `${widget.y + 1} / span ${widget.h}`;
      cell.dataset.metric = widget.metric;
      const title = widget.title || LABELS[widget.metric] || widget.metric;
      cell.append(h('h2', { id: `widget-${i}` }, title));
      grid.append(cell);
      try {
        const { answer, series } = await answers.get(i);
        cell.append(draw(widget, series, answer));
      } catch (err) {
        cell.append(errorMessage(err));
      }
    }),
  );
}

/** One /v1/kpis call per distinct set of filters; a promise of its series per widget index. */
function fetchAll(ctx, widgets, zone) {
  const groups = new Map();
  widgets.forEach((widget, i) => {
    const query = kpiQuery(widget.filters || {}, zone);
    const key = query.toString();
    if (!groups.has(key)) groups.set(key, { query, metrics: new Set(), members: [] });
    groups.get(key).metrics.add(widget.metric);
    groups.get(key).members.push(i);
  });
  const byWidget = new Map();
  for (const group of groups.values()) {
    group.query.set('metrics', [...group.metrics].join(','));
    const call = ctx.api('GET', `/v1/kpis?${group.query}`);
    for (const i of group.members) {
      byWidget.set(
        i,
        call.then((answer) => ({ answer, series: answer.metrics.find((m) => m.metric === widgets[i].metric) })),
      );
    }
  }
  return byWidget;
}

function kpiQuery(filters, zone) {
  const days = filters.range_days || 30;
  const to = today(zone);
  const query = new URLSearchParams({ from: addDays(to, 1 - days), to, bucket: filters.bucket || 'day' });
  for (const name of ['currency', 'technician_id', 'service_type_id']) {
    if (filters[name]) query.set(name, filters[name]);
  }
  return query;
}

/** Today's date (YYYY-MM-DD) in the tenant's time zone. */
function today(zone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    new Date(),
  );
}

function addDays(date, days) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The single number a widget shows for the whole range (see the top of this file). */
export function summary(series) {
  const points = series.points;
  if (!points.length) return null;
  if (SNAPSHOTS.includes(series.metric)) return points[points.length - 1].value;
  if (points.every((p) => p.denominator !== undefined)) {
    const num = points.reduce((sum, p) => sum + p.numerator, 0);
    const den = points.reduce((sum, p) => sum + p.denominator, 0);
    if (den === 0) return 0;
    return series.unit === 'ratio' ? num / den : Math.round(num / den);
  }
  return points.reduce((sum, p) => sum + (Number(p.value) || 0), 0);
}

function format(value, unit, currency) {
  if (value === null || value === undefined) return '–';
  switch (unit) {
    case 'ratio':
      return `${(value * 100).toFixed(1)} %`;
    case 'minor':
      return formatMoney(value, currency);
    case 'meters':
      return `${(value / 1000).toFixed(1)} km`;
    case 'per_day':
    case 'days':
      return Number(value).toFixed(1);
    default:
      return new Intl.NumberFormat().format(value);
  }
}

function draw(widget, series, answer) {
  if (!series) return h('p', { class: 'muted' }, 'No data.');
  const fmt = (v) => format(v, series.unit, answer.currency);
  const range = `${answer.from} – ${answer.to}`;
  if (widget.chart === 'number') {
    const value = summary(series);
    const number = h('p', { class: 'value', 'data-value': value, 'data-from': answer.from, 'data-to': answer.to }, fmt(value));
    return h('div', null, number, h('small', { class: 'muted' }, range));
  }
  if (widget.chart === 'table') {
    return table(
      [
        { label: 'From', value: (p) => p.start },
        { label: 'Value', value: (p) => fmt(p.value) },
      ],
      series.points,
    );
  }
  return chart(series, widget.chart === 'bar' || widget.chart === 'pie' ? 'bar' : 'line', fmt, range);
}

/** A small line or bar chart: the series' points left to right, with its highest value marked. */
function chart(series, kind, fmt, range) {
  const W = 300;
  const H = 120;
  const pad = 16;
  const values = series.points.map((p) => Number(p.value) || 0);
  const max = Math.max(...values, 0) || 1;
  const x = (i) => pad + (values.length <= 1 ? 0 : (i * (W - 2 * pad)) / (values.length - 1));
  const y = (v) => H - pad - (v / max) * (H - 2 * pad);
  const s = h.svg;
  const marks =
    kind === 'bar'
      ? values.map((v, i) => {
          const width = Math.max(1, (W - 2 * pad) / values.length - 1);
          const left = pad + (i * (W - 2 * pad)) / values.length;
          return s('rect', { class: 'chart-bar', x: left, y: y(v), width, height: H - pad - y(v) });
        })
      : [s('polyline', { class: 'chart-line', points: values.map((v, i) => `${x(i)},${y(v)}`).join(' ') })];
  const highest = Math.max(...values, 0);
  const last = values.length ? values[values.length - 1] : null;
  const description = `${range}: highest ${fmt(highest)}, latest ${fmt(last)}`;
  return s(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': description },
    s('line', { class: 'chart-axis', x1: pad, y1: H - pad, x2: W - pad, y2: H - pad }),
    marks,
    s('text', { class: 'chart-label', x: pad, y: 10 }, `highest ${fmt(highest)}`),
    s('text', { class: 'chart-label', x: W - pad, y: H - 2, 'text-anchor': 'end' }, `latest ${fmt(last)}`),
  );
}
