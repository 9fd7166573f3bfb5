// Usage over time (GET /usage, GET /users/{userId}/usage): hourly peaks of concurrent streams and refusals, drawn
// with uPlot (the load report's charting library, served beside the page as uPlot.iife.min.js, so `window.uPlot`).
// A chart is a canvas, which a screen reader cannot read: each one has a sentence saying what it shows, and the
// service's last 24 hours are also a table. Everything from the API reaches the page through textContent.

import { ApiError, enc } from './api.js';

const $ = (id) => document.getElementById(id);

const HOUR_MS = 3_600_000;

/** The API's `from`/`to` for the last `hours` hours, this one included: whole hours, as the API floors them. */
export function usageQuery(hours, now = Date.now()) {
  const to = Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS;
  return `from=${enc(new Date(to - hours * HOUR_MS).toISOString())}&to=${enc(new Date(to).toISOString())}`;
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** The figures the sentences and facts say: the highest peak (and its hour), the sums. */
function totals(hours) {
  let busiest = null;
  const sum = { admissions: 0, refusals: 0, evictions: 0, reclaims: 0, ended: 0 };
  for (const h of hours) {
    if (busiest === null || h.peak > busiest.peak) busiest = h;
    for (const key of Object.keys(sum)) sum[key] += h[key] ?? 0;
  }
  return { ...sum, peak: busiest?.peak ?? 0, peakHour: busiest?.peak ? busiest.hour : null };
}

const hourLabel = (iso) =>
  new Date(iso).toLocaleString(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });

/** A stream's median length for a table cell: `4 min 05 s`, `38 s`, or a dash for an hour when none ended. */
function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

// ---------------------------------------------------------------- charts

/** The charts drawn, by their container's id: redrawn in place, resized with the window. */
const charts = new Map();

/** The width a chart has inside its box (the box's padding is not the chart's); 0 while the box is hidden. */
function widthIn(box) {
  const style = getComputedStyle(box);
  return Math.max(0, box.clientWidth - Number.parseFloat(style.paddingLeft) - Number.parseFloat(style.paddingRight));
}

/** Fits the charts to their boxes: on a resize, and when a view shows again (a hidden box has no width to follow). */
export function fitCharts() {
  for (const [id, chart] of charts) {
    const width = widthIn($(id));
    if (width > 0 && width !== chart.width) chart.setSize({ width, height: chart.height });
  }
}

addEventListener('resize', fitCharts);

/** The page's own colours (light or dark), so the chart looks like the rest of the console. */
function colours() {
  const css = getComputedStyle(document.documentElement);
  const read = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    fg: read('--fg', '#1b1b1b'),
    line: read('--line', '#d4d4d0'),
    accent: read('--accent', '#0b5cad'),
    danger: read('--danger', '#b3261e'),
  };
}

/** Whole numbers only on the count axes: half a stream means nothing. */
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
const fromZero = (_u, _min, max) => [0, Math.max(1, max)];

/**
 * Peak concurrent streams per hour as a stepped line (the peak holds for the hour) on the left axis, refusals per
 * hour as bars on the right one: two scales, since a few streams and hundreds of refusals both have to show. Each
 * hour is drawn from its start to its end, so the data end with the end of the last hour: without it the current
 * hour, the one staff ask about most, would be a point with no width.
 */
function drawChart(id, hours) {
  const box = $(id);
  charts.get(id)?.destroy();
  charts.delete(id);
  const { fg, line, accent, danger } = colours();
  const uPlot = globalThis.uPlot;
  const n = hours.length;
  const end = hours.length ? Date.parse(hours.at(-1).hour) / 1000 + HOUR_MS / 1000 : 0;
  // Hovering the end of the last hour is not an hour of its own.
  const shown = (format) => (_u, v, _s, i) => (i === n || v === null ? '—' : format(v));
  const countAxis = (scale, label, side) => ({
    scale,
    label,
    side,
    stroke: fg,
    incrs: COUNT_STEPS,
    grid: { show: side === 3, stroke: line, width: 1 },
    ticks: { stroke: line, width: 1 },
  });
  const chart = new uPlot(
    {
      width: Math.max(240, widthIn(box)),
      height: 240,
      scales: { x: { time: true }, streams: { range: fromZero }, refusals: { range: fromZero } },
      axes: [
        { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } },
        countAxis('streams', 'peak streams', 3),
        countAxis('refusals', 'refusals', 1),
      ],
      series: [
        { label: 'hour', value: shown((t) => hourLabel(t * 1000)) },
        // The bars first: the peak's line is drawn over them, not hidden behind a bar.
        {
          label: 'refusals',
          scale: 'refusals',
          stroke: danger,
          fill: danger,
          width: 1,
          // From the hour's start, as the peak's step is.
          paths: uPlot.paths.bars({ size: [0.6, 16], align: 1 }),
          points: { show: false },
          value: shown(String),
        },
        {
          label: 'peak streams',
          scale: 'streams',
          stroke: accent,
          width: 2,
          paths: uPlot.paths.stepped({ align: 1 }),
          points: { show: false },
          value: shown(String),
        },
      ],
    },
    [
      [...hours.map((h) => Date.parse(h.hour) / 1000), end],
      [...hours.map((h) => h.refusals), null],
      [...hours.map((h) => h.peak), hours.at(-1)?.peak ?? null],
    ],
    box,
  );
  charts.set(id, chart);
}

// ---------------------------------------------------------------- a user's last 7 days

export const USER_USAGE_HOURS = 7 * 24;

/** The user's last 7 days; an empty state when nothing happened, not an empty chart. */
export function drawUserUsage(usage, userId) {
  const t = totals(usage.hours);
  const quiet = t.peak === 0 && t.admissions === 0 && t.refusals === 0 && usage.active === 0;
  $('usage-empty').hidden = !quiet;
  $('usage-chart').hidden = quiet;
  $('usage-summary').hidden = quiet;
  $('usage-empty').textContent = quiet ? `No streams and no refusals for ${userId} in the last 7 days.` : '';
  if (quiet) {
    charts.get('usage-chart')?.destroy();
    charts.delete('usage-chart');
    return;
  }
  $('usage-summary').textContent =
    `In the last 7 days: peak ${plural(t.peak, 'stream', 'streams')} at once` +
    `${t.peakHour ? ` (${hourLabel(t.peakHour)})` : ''}, ${plural(t.refusals, 'refusal', 'refusals')}, ` +
    `${plural(t.admissions, 'stream', 'streams')} started.`;
  drawChart('usage-chart', usage.hours);
}

/** A line where the chart goes (reading, or why it could not be read); the rest of the user's view stays usable. */
function userUsageMessage(text) {
  charts.get('usage-chart')?.destroy();
  charts.delete('usage-chart');
  $('usage-chart').hidden = true;
  $('usage-summary').hidden = true;
  $('usage-empty').hidden = false;
  $('usage-empty').textContent = text;
}

export const userUsageLoading = () => userUsageMessage('Reading the last 7 days…');

export const userUsageUnavailable = (message) => userUsageMessage(`Usage not available: ${message}`);

// ---------------------------------------------------------------- the service overview

export const OVERVIEW_HOURS = 24;

function cell(label, text) {
  const td = document.createElement('td');
  td.dataset.label = label;
  td.textContent = text;
  return td;
}

/** Streams now, the last 24 hours' peak and refusals, the chart and the table (newest hour first). */
export function drawOverview(usage) {
  const t = totals(usage.hours);
  const thisHour = usage.hours.at(-1);
  $('overview-active').textContent = String(usage.active);
  $('overview-peak').textContent = t.peakHour ? `${t.peak} (${hourLabel(t.peakHour)})` : String(t.peak);
  $('overview-refusals').textContent = String(t.refusals);
  $('overview-refusals-hour').textContent = String(thisHour?.refusals ?? 0);
  $('overview-summary').textContent =
    `Now ${plural(usage.active, 'stream', 'streams')}. In the last 24 hours: peak ` +
    `${plural(t.peak, 'stream', 'streams')} at once, ${plural(t.refusals, 'refusal', 'refusals')}, ` +
    `${plural(t.admissions, 'stream', 'streams')} started.`;
  drawChart('overview-chart', usage.hours);
  $('overview-table').tBodies[0].replaceChildren(
    ...usage.hours.toReversed().map((h) => {
      const tr = document.createElement('tr');
      const hour = cell('Hour', hourLabel(h.hour));
      hour.title = h.hour;
      tr.append(
        hour,
        cell('Peak', String(h.peak)),
        cell('Started', String(h.admissions)),
        cell('Refused', String(h.refusals)),
        cell('Evicted', String(h.evictions)),
        cell('Reclaimed', String(h.reclaims)),
        cell('Ended', String(h.ended)),
        cell('Median length', duration(h.medianDurationMs)),
      );
      return tr;
    }),
  );
  $('overview-updated').textContent = `Updated ${new Date().toLocaleTimeString()}.`;
}

/** The service now and over the last 24 hours, the refresh button held while it is read. */
export async function readOverview({ api, fail }) {
  const button = $('refresh-overview');
  button.disabled = true;
  try {
    drawOverview(await api('GET', `/usage?${usageQuery(OVERVIEW_HOURS)}`));
  } catch (error) {
    fail(error);
  } finally {
    button.disabled = false;
  }
}

/**
 * A user's last 7 days, drawn only if `current()` still names them once read (the staff member may have looked up
 * someone else meanwhile); a failure shows where the chart goes and leaves the rest of the view alone.
 */
export async function readUserUsage({ api, fail }, userId, current) {
  try {
    const usage = await api('GET', `/users/${enc(userId)}/usage?${usageQuery(USER_USAGE_HOURS)}`);
    if (userId === current()) drawUserUsage(usage, userId);
  } catch (error) {
    if (userId !== current()) return;
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) fail(error);
    else userUsageUnavailable(error.message);
  }
}
