// The operator's dashboard: admin login, then every second the gateway's last five minutes of
// numbers (GET /teeka/ops/stats, one sample per second) drawn with uPlot, and the latest sample as
// text. Screen readers get the numbers as text and a spoken note only when the queue changes state.
// Words from the language file (web/language.js); times in the country's time zone and locale.
import { callApi, messageFor, show } from './api.js';
import { isUnavailable, setBusy } from './forms.js';
import { formatDay, formatNumber, formatTime, loadLanguage, setupSwitcher, t } from './language.js';

const config = JSON.parse(document.getElementById('teeka-config').textContent);
await loadLanguage(config);
const uPlot = globalThis.uPlot;
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'teeka.admin.token';
const REFRESH_MS = 1000;
/**
 * No new sample for this long means the gateway's figures stopped: every tile is unknown. Measured on
 * the page's own clock (when samples last arrived), so a gateway clock that differs does not matter.
 */
const STALE_MS = 5000;

let token = sessionStorage.getItem(TOKEN_KEY);
let refreshTimer = null;
let running = false;

/** Numbers per chart: a label, a colour and how to read the value from a sample (null = unknown). */
const CHARTS = [
  {
    id: 'queue',
    counts: true,
    series: [
      { label: 'outbox', stroke: '#0b5f7a', value: (s) => s.queue?.outboxLength },
      { label: 'undelivered', stroke: '#c26a00', value: (s) => s.queue?.undelivered },
      { label: 'pending', stroke: '#6b4bb8', value: (s) => s.queue?.pending },
      { label: 'bullWaiting', stroke: '#2b8a3e', dash: [6, 4], value: (s) => s.queue?.bull?.waiting },
      { label: 'bullActive', stroke: '#1c7ed6', dash: [2, 3], value: (s) => s.queue?.bull?.active },
      { label: 'bullFailed', stroke: '#c92a2a', value: (s) => s.queue?.bull?.failed },
      { label: 'setAside', stroke: '#862e9c', dash: [8, 3, 2, 3], value: (s) => s.queue?.deadLetters },
    ],
  },
  {
    id: 'oldest',
    unit: 'seconds',
    series: [{ label: 'age', stroke: '#c26a00', value: (s) => (s.queue ? s.queue.oldestUndrainedAgeMs / 1000 : null) }],
  },
  {
    id: 'bookings',
    unit: 'perSecond',
    series: [
      { label: 'booked', stroke: '#2b8a3e', value: (s) => s.bookings_per_s },
      { label: 'refused', stroke: '#868e96', value: (s) => s.booking_refusals_per_s },
    ],
  },
  {
    id: 'searches',
    unit: 'perSecond',
    series: [{ label: 'searches', stroke: '#0b5f7a', value: (s) => s.searches_per_s }],
  },
  {
    id: 'quota',
    unit: 'perSecond',
    series: [
      { label: 'logouts', stroke: '#c26a00', value: (s) => s.logouts_per_s },
      { label: 'blocks', stroke: '#c92a2a', value: (s) => s.blocks_per_s },
    ],
  },
  {
    id: 'limited',
    unit: 'perSecond',
    series: [{ label: 'limited', stroke: '#c92a2a', value: (s) => s.rate_limited_per_s }],
  },
  {
    id: 'latency',
    unit: 'ms',
    series: [{ label: 'p99', stroke: '#6b4bb8', value: (s) => s.p99_ms }],
  },
];
const chartTitle = (chart) => t(`dashboard.chart.${chart.id}`);
const seriesLabel = (s) => t(`dashboard.series.${s.label}`);

/** A figure in the page's language, with its unit (`dashboard.unit.*`); '–' when there is none. */
const number = (value, unit) => {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const whole = Math.abs(value) >= 100 || Number.isInteger(value);
  const text = formatNumber(whole ? Math.round(value) : value, whole ? {} : { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  return unit ? t(`dashboard.unit.${unit}`, { value: text }) : text;
};
const duration = (ms) => {
  if (ms === null || ms === undefined) return '–';
  if (ms < 60_000) {
    const digits = ms < 10_000 ? 1 : 0;
    return t('dashboard.unit.seconds', { value: formatNumber(ms / 1000, { minimumFractionDigits: digits, maximumFractionDigits: digits }) });
  }
  return t('dashboard.minutesSeconds', { minutes: formatNumber(Math.floor(ms / 60_000)), seconds: formatNumber(Math.round((ms % 60_000) / 1000)) });
};

// ------------------------------------------------------------------ charts

const plots = new Map();
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000];

const AXIS_FONT = '12px system-ui, sans-serif';
const WINDOW_S = 300;
/** Time ticks in whole minutes: the labels are hours and minutes, so finer ticks would repeat them. */
const MINUTE_STEPS = [60, 120, 300];

/**
 * The time axis's labels. Each label, its time and where it is drawn are also kept on the chart
 * (`data-x-labels`): the canvas holds them only as pixels, and this is how a test (or anyone) can
 * check that they are the country's times and that they do not overlap.
 */
function timeLabels(u, ticks) {
  const labels = ticks.map((tick) => formatTime(tick * 1000));
  u.root.dataset.xLabels = JSON.stringify(ticks.map((tick, i) => ({ t: tick * 1000, label: labels[i], x: Math.round(u.valToPos(tick, 'x')) })));
  u.root.dataset.axisFont = AXIS_FONT;
  return labels;
}

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
    caption.append(chartTitle(chart));
    const now = document.createElement('span');
    now.className = 'now';
    now.id = `chart-${chart.id}-now`;
    caption.append(now);
    // the picture itself is described, not read out point by point: the caption and tiles carry the numbers
    const plotBox = document.createElement('div');
    plotBox.className = 'plot';
    plotBox.setAttribute('role', 'img');
    plotBox.setAttribute('aria-label', t('dashboard.chartAlt', { title: chartTitle(chart) }));
    figure.append(caption, plotBox);
    holder.append(figure);
    const plot = new uPlot(
      {
        width: plotWidth(plotBox),
        height: 200,
        // the x scale is always the last five minutes, so a young chart is not a few seconds stretched wide
        scales: { x: { time: true, range: (_u, _min, max) => [(max ?? 0) - WINDOW_S, max ?? WINDOW_S] }, y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1) * 1.1] } },
        // counts get whole-number ticks; rates and times may use fractions
        // time labels in the country's zone and the page's locale, at least 90 px apart so they never overlap
        axes: [
          { space: 90, incrs: MINUTE_STEPS, font: AXIS_FONT, values: timeLabels },
          { size: 64, font: AXIS_FONT, values: (_u, ticks) => ticks.map((tick) => number(tick)), ...(chart.counts ? { incrs: WHOLE_STEPS } : {}) },
        ],
        series: [
          { label: t('dashboard.time'), value: (_u, time) => (time === null ? '–' : formatTime(time * 1000, { hour: 'numeric', minute: '2-digit', second: '2-digit' })) },
          ...chart.series.map((s) => ({ label: seriesLabel(s), stroke: s.stroke, width: 2, dash: s.dash, value: (_u, v) => number(v, chart.unit) })),
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
      ? t('dashboard.caption', {
          now: chart.series.map((s) => `${seriesLabel(s)} ${number(s.value(last), chart.unit)}`).join(', '),
          highest: chart.series.map((s, i) => `${seriesLabel(s)} ${number(peaks[i], chart.unit)}`).join(', '),
        })
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
    item.textContent = t('dashboard.deadLetter', { change: d.eventId || d.kind || t('dashboard.unknownChange'), outboxId: d.outboxId, code: d.code, error: d.error });
    return item;
  });
  if (count > items.length) {
    const more = document.createElement('li');
    more.textContent = t('dashboard.moreDeadLetters', { n: number(count - items.length) });
    items.push(more);
  }
  $('dead-letter-list').replaceChildren(...items);
}

const TILES = ['outbox', 'undelivered', 'pending', 'bull', 'failed', 'dead', 'oldest', 'bookings', 'searches', 'quota', '429', 'p99', 'requests'];
const QUEUE_TILES = ['outbox', 'undelivered', 'pending', 'bull', 'failed', 'dead', 'oldest'];

/** A tile's figure, or "unknown" (shown as such, never in the calm green of a last good value). */
function setTile(name, text, { alert = false, calm = false } = {}) {
  const unknown = text === null;
  $(`now-${name}`).textContent = unknown ? t('dashboard.unknown') : text;
  const tile = $(`tile-${name}`);
  tile.classList.toggle('unknown', unknown && !alert);
  tile.classList.toggle('alert', alert);
  tile.classList.toggle('calm', calm && !unknown && !alert);
}

/**
 * The gateway's figures did not arrive (it is down, or its samples stopped): every tile is unknown
 * and every chart says so, rather than showing the last values as if they were current.
 */
function showUnavailable() {
  for (const name of TILES) setTile(name, null);
  for (const { now } of plots.values()) now.textContent = t('dashboard.chartUnknown');
}

function showLatest(sample) {
  const q = sample.queue;
  const known = q !== null && q !== undefined;
  const queueFigures = known
    ? {
        outbox: number(q.outboxLength),
        undelivered: number(q.undelivered),
        pending: number(q.pending),
        bull: `${number(q.bull.waiting)} / ${number(q.bull.active)}`,
        failed: number(q.bull.failed),
        dead: number(q.deadLetters),
        oldest: duration(q.oldestUndrainedAgeMs),
      }
    : {};
  const bad = {
    // a worker that does not report is an alert: then nobody says whether bookings reach PostgreSQL
    outbox: !known || q.outboxLength > 0,
    undelivered: known && q.undelivered > 0,
    failed: known && q.bull.failed > 0,
    dead: known && q.deadLetters > 0,
    oldest: known && q.oldestUndrainedAgeMs > 5000,
  };
  for (const name of QUEUE_TILES) setTile(name, queueFigures[name] ?? null, { alert: Boolean(bad[name]), calm: name in bad });
  showDeadLetters(q);
  const figure = (value, unit) => (value === null || value === undefined ? null : number(value, unit));
  setTile('bookings', figure(sample.bookings_per_s));
  setTile('searches', figure(sample.searches_per_s));
  setTile('quota', sample.logouts_per_s === undefined ? null : `${number(sample.logouts_per_s)} / ${number(sample.blocks_per_s)}`);
  setTile('429', figure(sample.rate_limited_per_s));
  setTile('p99', figure(sample.p99_ms, 'ms'));
  setTile('requests', figure(sample.requests_per_s));

  const outbox = known ? q.outboxLength : null;
  // speak only when the queue changes state, never every second
  if (!known && previousQueue.known) announce(t('dashboard.say.workerSilent'));
  if (known && previousQueue.known === false) {
    announce(outbox === 0 ? t('dashboard.say.drained') : t('dashboard.say.workerBack', { n: number(outbox) }));
  }
  if (known && previousQueue.outbox !== null) {
    if (previousQueue.outbox === 0 && outbox > 0) announce(t('dashboard.say.growing', { n: number(outbox) }));
    if (previousQueue.outbox > 0 && outbox === 0) announce(t('dashboard.say.drained'));
    if (q.bull.failed > previousQueue.failed) announce(t('dashboard.say.failed', { n: number(q.bull.failed) }));
    if (q.deadLetters > previousQueue.deadLetters) announce(t('dashboard.say.deadLetters', { n: number(q.deadLetters) }));
  }
  previousQueue = { known, outbox, failed: q?.bull.failed ?? previousQueue.failed, deadLetters: q?.deadLetters ?? previousQueue.deadLetters };
}

/** A table row of text cells (text only: partner names and errors may hold anything). */
function tableRow(texts) {
  const row = document.createElement('tr');
  for (const text of texts) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  }
  return row;
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
      const row = tableRow([
        `${p.name} (${p.partner_id})`,
        p.scopes.join(', '), // the scope names partners configure: not translated
        t(`dashboard.partners.state.${p.status}`),
        `${number(p.usage.minute)} / ${number(p.per_minute)}`,
        `${number(p.usage.day)} / ${number(p.per_day)}`,
        number(p.keys.filter((k) => k.status === 'active').length),
      ]);
      row.dataset.partner = p.partner_id;
      row.classList.toggle('alert', p.usage.minute >= p.per_minute || p.usage.day >= p.per_day);
      return row;
    }),
  );
}

// ------------------------------------------------------------------ openings under fair admission (GET /teeka/ops/openings)

// a queue moves at its admission rate: every couple of seconds shows it move without reading Redis each second
const OPENINGS_EVERY_MS = 2000;
let openingsShownAt = 0;

/**
 * One row per opening under fair admission: its queue's length, the admission rate held against the
 * configured one, the seats left (less those admitted places still hold) and what became of the turns.
 * Text only.
 */
async function refreshOpenings() {
  if (performance.now() - openingsShownAt < OPENINGS_EVERY_MS) return;
  openingsShownAt = performance.now();
  const { json } = await callApi('GET', '/teeka/ops/openings', { token });
  const openings = json.openings ?? [];
  $('openings').hidden = openings.length === 0;
  $('opening-rows').replaceChildren(
    ...openings.map((o) => {
      const row = tableRow([
        t('dashboard.openings.sessionName', { centre: o.center_id, day: formatDay(o.date) }),
        formatTime(Date.parse(o.opens_at)),
        t(`dashboard.openings.phases.${o.phase}`),
        number(o.queue_length),
        t('dashboard.openings.rateHeld', { measured: number(o.admitted_per_s), configured: number(o.admission_rate) }),
        t('dashboard.openings.seats', { left: number(o.seats_left), held: number(o.outstanding_seats) }),
        t('dashboard.openings.turnsText', { admitted: number(o.admitted), used: number(o.used), expired: number(o.expired), lapsed: number(o.lapsed) }),
      ]);
      row.dataset.session = o.session_id;
      row.classList.toggle('alert', o.phase === 'open' && o.seats_left === 0 && o.queue_length > 0);
      return row;
    }),
  );
}

/** Operators and partners the access log's watch flagged (GET /teeka/admin/access-log/flagged). Text only. */
async function refreshFlagged() {
  const { json } = await callApi('GET', '/teeka/admin/access-log/flagged', { token });
  const flagged = json.flagged ?? [];
  if (flagged.length > $('flagged-list').children.length) announce(t('dashboard.flagged.say', { n: number(flagged.length) }));
  $('flagged').hidden = flagged.length === 0;
  $('flagged-list').replaceChildren(
    ...flagged.map((f) => {
      const item = document.createElement('li');
      item.dataset.reader = f.reader;
      item.textContent = t('dashboard.flagged.item', { reader: f.reader, time: formatTime(f.at, { dateStyle: 'medium', timeStyle: 'short' }) });
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
let lastSampleArrived = 0;
const KEEP_SAMPLES = 300;

async function refresh() {
  const started = performance.now();
  try {
    const since = samples.length ? `?since=${samples[samples.length - 1].t}` : '';
    const { json } = await callApi('GET', `/teeka/ops/stats${since}`, { token });
    if (json.samples?.length) lastSampleArrived = performance.now();
    samples = samples.concat(json.samples ?? []).slice(-KEEP_SAMPLES);
    await refreshPartners();
    await refreshOpenings();
    const newest = samples[samples.length - 1];
    if (newest && performance.now() - lastSampleArrived > STALE_MS) {
      // the gateway answers but its figures stopped: as unknown as no answer
      showUnavailable();
      $('updated').textContent = t('dashboard.stale', { time: formatTime(newest.t, { hour: 'numeric', minute: '2-digit', second: '2-digit' }) });
      $('updated').dataset.kind = 'error';
    } else if (newest) {
      drawCharts(samples);
      showLatest(newest);
      $('updated').textContent = t('dashboard.updated', { time: formatTime(newest.t, { hour: 'numeric', minute: '2-digit', second: '2-digit' }) });
      $('updated').dataset.kind = '';
    }
  } catch (error) {
    if (error.code === 'USRAUT0001' || error.code === 'USRAUT0003') {
      logout(error.code === 'USRAUT0001' ? t('dashboard.sessionEnded') : messageFor('USRAUT0003'));
      return;
    }
    showUnavailable();
    if ($('updated').dataset.kind !== 'error') announce(t('dashboard.unavailable', { reason: error.message }));
    $('updated').textContent = t('dashboard.unavailable', { reason: error.message });
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
  openingsShownAt = 0;
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
    show($('admin-key-error'), t('dashboard.enterKey'), 'error');
    input.focus();
    return;
  }
  const button = event.submitter ?? $('login-form').querySelector('[type=submit]');
  if (isUnavailable(button)) return;
  setBusy(button, true);
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
    setBusy(button, false);
  }
});
$('logout').addEventListener('click', () => logout(t('dashboard.loggedOut'), 'info'));
setupSwitcher($('language'), config);

if (!uPlot) {
  show($('login-reason'), t('dashboard.noChartLibrary'), 'error');
} else if (token) {
  showBoard({ focus: false });
}
document.documentElement.dataset.ready = 'true';
