// The operator's dashboard: admin login, then every second the gateway's last five minutes of
// numbers (GET /teeka/ops/stats, one sample per second) drawn with uPlot, and the latest sample as
// text. Screen readers get the numbers as text and a spoken note only when the queue changes state.
import { callApi, messageFor, show } from './api.js';

const uPlot = globalThis.uPlot;
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'teeka.admin.token';
const REFRESH_MS = 1000;

let token = sessionStorage.getItem(TOKEN_KEY);
let refreshTimer = null;
let running = false;

/** Numbers per chart: a label, a colour and how to read the value from a sample (null = unknown). */
const CHARTS = [
  {
    id: 'queue',
    title: 'Queue depth',
    unit: '',
    counts: true,
    series: [
      { label: 'Not in PostgreSQL', stroke: '#0b5f7a', value: (s) => s.queue?.outboxLength },
      { label: 'Unread (lag)', stroke: '#c26a00', value: (s) => s.queue?.undelivered },
      { label: 'Pending', stroke: '#6b4bb8', value: (s) => s.queue?.pending },
      { label: 'Bull waiting', stroke: '#2b8a3e', dash: [6, 4], value: (s) => s.queue?.bull?.waiting },
      { label: 'Bull active', stroke: '#1c7ed6', dash: [2, 3], value: (s) => s.queue?.bull?.active },
      { label: 'Bull failed', stroke: '#c92a2a', value: (s) => s.queue?.bull?.failed },
      { label: 'Set aside', stroke: '#862e9c', dash: [8, 3, 2, 3], value: (s) => s.queue?.deadLetters },
    ],
  },
  {
    id: 'oldest',
    title: 'Oldest undrained booking',
    unit: ' s',
    series: [{ label: 'Age', stroke: '#c26a00', value: (s) => (s.queue ? s.queue.oldestUndrainedAgeMs / 1000 : null) }],
  },
  {
    id: 'bookings',
    title: 'Bookings per second',
    unit: '/s',
    series: [
      { label: 'Booked', stroke: '#2b8a3e', value: (s) => s.bookings_per_s },
      { label: 'Refused (full, rules)', stroke: '#868e96', value: (s) => s.booking_refusals_per_s },
    ],
  },
  {
    id: 'searches',
    title: 'Searches per second',
    unit: '/s',
    series: [{ label: 'Searches', stroke: '#0b5f7a', value: (s) => s.searches_per_s }],
  },
  {
    id: 'quota',
    title: 'Quota logouts and blocks per second',
    unit: '/s',
    series: [
      { label: 'Logouts', stroke: '#c26a00', value: (s) => s.logouts_per_s },
      { label: 'Blocks', stroke: '#c92a2a', value: (s) => s.blocks_per_s },
    ],
  },
  {
    id: 'limited',
    title: 'Refused with 429 per second',
    unit: '/s',
    series: [{ label: '429s', stroke: '#c92a2a', value: (s) => s.rate_limited_per_s }],
  },
  {
    id: 'latency',
    title: 'p99 latency',
    unit: ' ms',
    series: [{ label: 'p99', stroke: '#6b4bb8', value: (s) => s.p99_ms }],
  },
];

const number = (value, unit = '') => {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const text = Math.abs(value) >= 100 || Number.isInteger(value) ? Math.round(value).toLocaleString('en-IN') : value.toFixed(1);
  return `${text}${unit}`;
};
const duration = (ms) => {
  if (ms === null || ms === undefined) return '–';
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
};

// ------------------------------------------------------------------ charts

const plots = new Map();
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000];

function plotWidth(container) {
  return Math.max(260, container.clientWidth);
}

function buildCharts() {
  const holder = $('charts');
  holder.replaceChildren();
  plots.clear();
  for (const chart of CHARTS) {
    const figure = document.createElement('figure');
    figure.className = 'chart';
    figure.id = `chart-${chart.id}`;
    const caption = document.createElement('figcaption');
    caption.append(chart.title);
    const now = document.createElement('span');
    now.className = 'now';
    now.id = `chart-${chart.id}-now`;
    caption.append(now);
    // the picture itself is described, not read out point by point: the caption and tiles carry the numbers
    const plotBox = document.createElement('div');
    plotBox.className = 'plot';
    plotBox.setAttribute('role', 'img');
    plotBox.setAttribute('aria-label', `Line chart of ${chart.title.toLowerCase()} over the last five minutes`);
    figure.append(caption, plotBox);
    holder.append(figure);
    const plot = new uPlot(
      {
        width: plotWidth(plotBox),
        height: 200,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1) * 1.1] } },
        // counts get whole-number ticks; rates and times may use fractions
        axes: [{}, { size: 56, values: (_u, ticks) => ticks.map((t) => number(t)), ...(chart.counts ? { incrs: WHOLE_STEPS } : {}) }],
        series: [
          { label: 'Time', value: (_u, t) => (t === null ? '–' : new Date(t * 1000).toLocaleTimeString()) },
          ...chart.series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, dash: s.dash, value: (_u, v) => number(v, chart.unit) })),
        ],
        legend: { live: false },
      },
      [[], ...chart.series.map(() => [])],
      plotBox,
    );
    plots.set(chart.id, { chart, plot, plotBox, now });
  }
  new ResizeObserver(() => {
    for (const { plot, plotBox } of plots.values()) plot.setSize({ width: plotWidth(plotBox), height: 200 });
  }).observe(holder);
}

function drawCharts(samples) {
  const xs = samples.map((s) => s.t / 1000);
  for (const { chart, plot, now } of plots.values()) {
    const ys = chart.series.map((s) => samples.map((sample) => s.value(sample) ?? null));
    plot.setData([xs, ...ys]);
    const last = samples[samples.length - 1];
    // the caption is the chart's text alternative: the latest value and the highest of the window
    const peaks = ys.map((values) => values.reduce((max, v) => (v !== null && (max === null || v > max) ? v : max), null));
    now.textContent = last
      ? `Now: ${chart.series.map((s) => `${s.label} ${number(s.value(last), chart.unit)}`).join(', ')}. ` +
        `Highest in 5 min: ${chart.series.map((s, i) => `${s.label} ${number(peaks[i], chart.unit)}`).join(', ')}.`
      : '';
  }
}

// ------------------------------------------------------------------ the latest numbers as text

// `known`: whether a worker publishes its depth (null before the first sample); unknown is an alert,
// since then nobody says whether bookings reach PostgreSQL
let previousQueue = { known: null, outbox: null, failed: 0, deadLetters: 0 };

/** The newest dead letters: which change, and what PostgreSQL said. Text only: an error may hold anything. */
function showDeadLetters(q) {
  const count = q?.deadLetters ?? 0;
  $('dead-letters').hidden = count === 0;
  if (count === 0) return;
  const items = (q.latestDeadLetters ?? []).map((d) => {
    const item = document.createElement('li');
    item.textContent = `${d.eventId || d.kind || 'unknown change'} (outbox entry ${d.outboxId}): ${d.code} ${d.error}`;
    return item;
  });
  if (count > items.length) {
    const more = document.createElement('li');
    more.textContent = `… and ${number(count - items.length)} older`;
    items.push(more);
  }
  $('dead-letter-list').replaceChildren(...items);
}

function showLatest(sample) {
  const q = sample.queue;
  $('now-outbox').textContent = q ? number(q.outboxLength) : 'unknown';
  $('now-undelivered').textContent = q ? number(q.undelivered) : 'unknown';
  $('now-pending').textContent = q ? number(q.pending) : 'unknown';
  $('now-bull').textContent = q ? `${number(q.bull.waiting)} / ${number(q.bull.active)}` : 'unknown';
  $('now-failed').textContent = q ? number(q.bull.failed) : 'unknown';
  $('now-dead').textContent = q ? number(q.deadLetters) : 'unknown';
  showDeadLetters(q);
  $('now-oldest').textContent = q ? duration(q.oldestUndrainedAgeMs) : 'unknown';
  $('now-bookings').textContent = number(sample.bookings_per_s);
  $('now-searches').textContent = number(sample.searches_per_s);
  $('now-quota').textContent = `${number(sample.logouts_per_s)} / ${number(sample.blocks_per_s)}`;
  $('now-429').textContent = number(sample.rate_limited_per_s);
  $('now-p99').textContent = sample.p99_ms === null ? '–' : number(sample.p99_ms, ' ms');
  $('now-requests').textContent = number(sample.requests_per_s);

  const outbox = q ? q.outboxLength : null;
  for (const [tile, bad] of [
    ['tile-outbox', q === null || outbox > 0],
    ['tile-undelivered', q?.undelivered > 0],
    ['tile-failed', q?.bull.failed > 0],
    ['tile-dead', q?.deadLetters > 0],
    ['tile-oldest', q?.oldestUndrainedAgeMs > 5000],
  ]) {
    $(tile).classList.toggle('alert', Boolean(bad));
    $(tile).classList.toggle('calm', q !== null && !bad);
  }
  // speak only when the queue changes state, never every second
  const known = q !== null;
  if (!known && previousQueue.known) announce('Persistence worker not reporting: queue depth unknown.');
  if (known && previousQueue.known === false) {
    announce(outbox === 0 ? 'Persistence queue drained: everything is in PostgreSQL.' : `Persistence worker reporting again: ${outbox} changes not yet in PostgreSQL.`);
  }
  if (q && previousQueue.outbox !== null) {
    if (previousQueue.outbox === 0 && outbox > 0) announce(`Persistence queue growing: ${outbox} changes not yet in PostgreSQL.`);
    if (previousQueue.outbox > 0 && outbox === 0) announce('Persistence queue drained: everything is in PostgreSQL.');
    if (q.bull.failed > previousQueue.failed) announce(`${q.bull.failed} persistence jobs have failed.`);
    if (q.deadLetters > previousQueue.deadLetters) announce(`${q.deadLetters} changes were refused by PostgreSQL and set aside.`);
  }
  previousQueue = { known, outbox, failed: q?.bull.failed ?? previousQueue.failed, deadLetters: q?.deadLetters ?? previousQueue.deadLetters };
}

// ------------------------------------------------------------------ partners (GET /teeka/admin/partners)

// partners and flags change slowly and the lists read Redis: every few seconds is enough
const PARTNERS_EVERY_MS = 5000;
let partnersShownAt = 0;

/** One row per partner: its calls in the open minute and day windows against its limits. Text only. */
async function refreshPartners() {
  if (performance.now() - partnersShownAt < PARTNERS_EVERY_MS) return;
  partnersShownAt = performance.now();
  await refreshFlagged();
  const { json } = await callApi('GET', '/teeka/admin/partners', { token });
  const partners = json.partners ?? [];
  $('partners').hidden = partners.length === 0;
  $('partner-rows').replaceChildren(
    ...partners.map((p) => {
      const row = document.createElement('tr');
      row.dataset.partner = p.partner_id;
      const cells = [
        `${p.name} (${p.partner_id})`,
        p.scopes.join(', '),
        p.status,
        `${number(p.usage.minute)} / ${number(p.per_minute)}`,
        `${number(p.usage.day)} / ${number(p.per_day)}`,
        number(p.keys.filter((k) => k.status === 'active').length),
      ];
      for (const text of cells) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      row.classList.toggle('alert', p.usage.minute >= p.per_minute || p.usage.day >= p.per_day);
      return row;
    }),
  );
}

/** Operators and partners the access log's watch flagged (GET /teeka/admin/access-log/flagged). Text only. */
async function refreshFlagged() {
  const { json } = await callApi('GET', '/teeka/admin/access-log/flagged', { token });
  const flagged = json.flagged ?? [];
  if (flagged.length > $('flagged-list').children.length) announce(`${flagged.length} readers flagged by the access watch.`);
  $('flagged').hidden = flagged.length === 0;
  $('flagged-list').replaceChildren(
    ...flagged.map((f) => {
      const item = document.createElement('li');
      item.dataset.reader = f.reader;
      item.textContent = `${f.reader}, flagged ${new Date(f.at).toLocaleString()}`;
      return item;
    }),
  );
}

function announce(text) {
  $('announcer').textContent = text;
}

// ------------------------------------------------------------------ refresh loop

// the samples drawn so far (the last five minutes); each poll asks only for newer ones
let samples = [];
const KEEP_SAMPLES = 300;

async function refresh() {
  const started = performance.now();
  try {
    const since = samples.length ? `?since=${samples[samples.length - 1].t}` : '';
    const { json } = await callApi('GET', `/teeka/ops/stats${since}`, { token });
    samples = samples.concat(json.samples ?? []).slice(-KEEP_SAMPLES);
    await refreshPartners();
    if (samples.length) {
      drawCharts(samples);
      showLatest(samples[samples.length - 1]);
      $('updated').textContent = `Updated ${new Date(samples[samples.length - 1].t).toLocaleTimeString()}`;
      $('updated').dataset.kind = '';
    }
  } catch (error) {
    if (error.code === 'USRAUT0001' || error.code === 'USRAUT0003') {
      logout(error.code === 'USRAUT0001' ? 'Your admin session has ended. Please enter the key again.' : messageFor('USRAUT0003'));
      return;
    }
    if ($('updated').dataset.kind !== 'error') announce(`Numbers unavailable: ${error.message}`);
    $('updated').textContent = `Numbers unavailable: ${error.message}`;
    $('updated').dataset.kind = 'error';
  }
  if (running && !document.hidden) refreshTimer = setTimeout(refresh, Math.max(0, REFRESH_MS - (performance.now() - started)));
}

function start() {
  running = true;
  clearTimeout(refreshTimer);
  void refresh();
}

// a hidden tab stops asking: five minutes of samples every second is not free for the gateway
document.addEventListener('visibilitychange', () => {
  if (!running) return;
  clearTimeout(refreshTimer);
  if (!document.hidden) void refresh();
});

// ------------------------------------------------------------------ login

function showBoard({ focus }) {
  $('login').hidden = true;
  $('board').hidden = false;
  $('signed-in').hidden = false;
  if (!plots.size) buildCharts();
  if (focus) $('board-title').focus();
  start();
}

function logout(reason, kind = 'error') {
  running = false;
  clearTimeout(refreshTimer);
  token = null;
  samples = [];
  partnersShownAt = 0;
  sessionStorage.removeItem(TOKEN_KEY);
  $('board').hidden = true;
  $('signed-in').hidden = true;
  $('login').hidden = false;
  show($('login-reason'), reason, kind);
  $('admin-key').focus();
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = $('admin-key').value;
  const input = $('admin-key');
  if (!key) {
    input.setAttribute('aria-invalid', 'true');
    show($('admin-key-error'), 'Please enter the admin key.', 'error');
    input.focus();
    return;
  }
  const button = event.submitter ?? $('login-form').querySelector('[type=submit]');
  button.disabled = true;
  try {
    const { json } = await callApi('POST', '/teeka/auth/operator', { body: { role: 'admin', key } });
    token = json.token;
    sessionStorage.setItem(TOKEN_KEY, token);
    input.value = '';
    input.removeAttribute('aria-invalid');
    show($('admin-key-error'), '');
    show($('login-reason'), '');
    showBoard({ focus: true });
  } catch (error) {
    input.setAttribute('aria-invalid', 'true');
    show($('admin-key-error'), error.message, 'error');
    input.focus();
  } finally {
    button.disabled = false;
  }
});
$('logout').addEventListener('click', () => logout('You have logged out.', 'info'));

if (!uPlot) {
  show($('login-reason'), 'The chart library did not load. Reload the page.', 'error');
} else if (token) {
  showBoard({ focus: false });
}
document.documentElement.dataset.ready = 'true';
