/**
 * `--html FILE`: one self-contained page (uPlot, its CSS and the report inlined; nothing fetched) with the verdict,
 * the key figures and three charts drawn from the per-second timeline: connect latency, handshakes per second, streams
 * held.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { FLAG_OF, type LoadOptions } from './options.js';
import { sum } from './tally.js';
import type { LoadReport } from './types.js';

const require = createRequire(import.meta.url);
const asset = (path: string) => readFileSync(require.resolve(path), 'utf8');

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** JSON safe inside a <script> element: no `</script>`, no `<!--`, no line separators that end the script. */
const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

const statuses = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');

function figures(r: LoadReport): Array<[string, string]> {
  const lat = r.latencyMs.admitted;
  return [
    ['model', r.model === 'open' ? `open: ${r.settings.rate} new streams/s` : `closed: ${r.streamsPerUser} per user`],
    ['users, limit', `${r.users}, ${r.limit}`],
    ['attempts', String(r.attempts)],
    ['admitted', `${r.admitted} (${r.admittedPerSecond.mean}/s mean, ${r.admittedPerSecond.peak}/s best second)`],
    ['refused', sum(r.rejected) === 0 ? '0' : `${sum(r.rejected)} (${statuses(r.rejected)})`],
    ['errors, timeouts', `${sum(r.errors)}, ${r.timeouts}`],
    ['connect admitted (ms)', `p50 ${lat.p50}, p95 ${lat.p95}, p99 ${lat.p99}, max ${lat.max}`],
    ['takeovers', `${r.takeovers.admitted} of ${r.takeovers.attempted}, lingering ${r.takeovers.lingering}`],
    ['held at the end', `${r.heldAtEnd} of ${r.expectedHeld}`],
    ['max held by one user', String(r.maxHeldByOneUser)],
    ['limit violations', String(r.violations)],
    ['locked-out users', String(r.lockedOut)],
  ];
}

/**
 * The run's settings as flags, only those that shaped this run: the other model's flags, output switches and unset
 * credentials are left out (they did not apply), and stream-id reuse shows only when it was turned off.
 */
function settingRows(r: LoadReport): Array<[string, string]> {
  const notApplying = new Set<string>([
    'json',
    'html',
    'mintTokens',
    ...(r.model === 'open' ? ['rampS'] : ['rate', 'holdS']),
  ]);
  const rows: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(r.settings)) {
    if (value === undefined || notApplying.has(key)) continue;
    const flag = FLAG_OF[key as keyof LoadOptions] ?? key;
    if (key === 'reuseStreams') {
      if (value === false) rows.push([flag, 'yes: a new stream id on every connect']);
    } else if (key === 'tokens') rows.push([flag, `${value} tokens (not shown)`]);
    else if (key === 'thresholds') {
      if ((value as string[]).length > 0) rows.push([flag, (value as string[]).join(', ')]);
    } else rows.push([flag, String(value)]);
  }
  if (r.settings.mintTokens) rows.push(['--mint-tokens', 'one token per user, signed with the local key']);
  return rows;
}

const table = (rows: Array<[string, string]>) =>
  `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;

/** Draws the charts from the embedded report; runs in the page. */
const CHARTS = `
const report = JSON.parse(document.getElementById('report').textContent);
const tl = report.timeline;
const t = tl.map((s) => s.t);
const width = Math.max(320, Math.min(1000, document.body.clientWidth - 32));
const axes = (label) => [{ label: 'seconds since start' }, { label }];
const chart = (id, title, label, series, data) =>
  new uPlot({ title, width, height: 260, scales: { x: { time: false } }, axes: axes(label),
    // A static legend: the series' names, not values under a cursor that a saved page never has (it showed "--").
    legend: { live: false }, series: [{ label: 'second' }, ...series] },
    [t, ...data], document.getElementById(id));
chart('latency', 'Connect latency of admitted handshakes', 'ms',
  [{ label: 'p50', stroke: '#2b7bb9', width: 2 }, { label: 'p99', stroke: '#d9534f', width: 2 }],
  [tl.map((s) => s.p50), tl.map((s) => s.p99)]);
chart('admissions', 'Handshakes per second', 'per second',
  [{ label: 'admitted', stroke: '#3c9a3c', width: 2 }, { label: 'refused', stroke: '#e0a020', width: 2 },
   { label: 'errors', stroke: '#d9534f', width: 2 }, { label: 'takeovers', stroke: '#8a5cc2', width: 1 }],
  [tl.map((s) => s.admitted), tl.map((s) => s.refused), tl.map((s) => s.errors), tl.map((s) => s.takeovers)]);
chart('held', 'Streams held', 'streams',
  [{ label: 'held', stroke: '#2b7bb9', width: 2, fill: 'rgba(43,123,185,0.1)' },
   { label: 'expected at steady state', stroke: '#888', dash: [6, 4] }],
  [tl.map((s) => s.held), tl.map(() => report.expectedHeld)]);
document.body.dataset.charts = String(document.querySelectorAll('.uplot').length);
`;

export function renderHtml(r: LoadReport): string {
  const verdict = r.verdict.pass
    ? '<p class="verdict pass">PASS</p>'
    : `<p class="verdict fail">FAIL (exit ${r.verdict.exitCode})</p><ul>${r.verdict.reasons
        .map((x) => `<li>${escapeHtml(x)}</li>`)
        .join('')}</ul>`;
  const thresholds = r.verdict.thresholds.length
    ? `<h2>Thresholds</h2>${table(
        r.verdict.thresholds.map((t) => [t.threshold, `${t.pass ? 'ok' : 'MISSED'} (actual ${t.actual})`]),
      )}`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>streamgate load test ${escapeHtml(r.startedAt)}</title>
<style>${asset('uplot/dist/uPlot.min.css')}</style>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { text-align: left; padding: 2px 12px 2px 0; vertical-align: top; }
th { font-weight: 600; color: #555; }
.verdict { font-size: 20px; font-weight: 700; margin: 8px 0; }
.pass { color: #2e7d32; } .fail { color: #c62828; }
.chart { margin: 16px 0; }
</style>
</head>
<body>
<h1>streamgate load test</h1>
<p>${escapeHtml(r.url)} · started ${escapeHtml(r.startedAt)} · ${escapeHtml(r.tool.name)} ${escapeHtml(r.tool.version)} · ${(r.elapsedMs / 1000).toFixed(1)} s</p>
${verdict}
${table(figures(r))}
${thresholds}
<div class="chart" id="latency"></div>
<div class="chart" id="admissions"></div>
<div class="chart" id="held"></div>
<h2>Settings</h2>
${table(settingRows(r))}
<script type="application/json" id="report">${scriptJson(r)}</script>
<script>${asset('uplot/dist/uPlot.iife.min.js')}</script>
<script>${CHARTS}</script>
</body>
</html>
`;
}
