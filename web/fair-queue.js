// The citizen page's waiting rooms: the sessions this account joined under fair admission (issue 16),
// each with its place, the people ahead and an estimated wait, kept live by the queue WebSocket
// (polling the status while it is away), remembered on this device so a reload or a dropped
// connection finds the place again, and the admission handed to the booking dialog when the turn
// comes. Plain DOM code like citizen.js; every word is the language file's.
import { gatewaySocket } from './availability-feed.js';
import { formatNumber, formatTime, t } from './language.js';

/** How often the status is asked while the WebSocket is away (and once a minute while it is up, as a check). */
const POLL_MS = 3000;
const CHECK_MS = 60_000;
/** A screen reader hears the place at most this often; changes of state (your turn, seats gone) at once. */
const ANNOUNCE_EVERY_MS = 15_000;
const STORAGE_PREFIX = 'teeka.citizen.queues.';

/**
 * Words for a wait in seconds, rounded up and never more precise than the estimate is: the admission
 * rate and people not using their turn move it, so it is "about", in minutes or hours.
 */
export function waitWords(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return t('citizen.queue.waitUnknown');
  if (seconds < 60) return t('citizen.queue.waitUnderMinute');
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return t('citizen.queue.waitMinutes', { count: minutes, n: formatNumber(minutes) });
  const hours = Math.round(minutes / 30) / 2;
  return t('citizen.queue.waitHours', { count: hours, n: formatNumber(hours) });
}

/** An admission's deadline (epoch ms); the API writes it as an ISO time. */
export const admissionExpiry = (status) => Date.parse(status.admission_expires_at ?? '') || 0;

/** The account a token belongs to (its `sub`): a device shared by two accounts keeps their queues apart. */
function accountOf(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).sub ?? null;
  } catch {
    return null;
  }
}

/**
 * The queues joined on this page. `authed(method, path, options)` calls the API with the login;
 * `onAdmitted(entry)` opens the booking dialog with `entry.admission`; `describe(entry)` is the line
 * that names the session (centre, day, vaccine).
 */
export class FairQueues {
  constructor({ list, section, announcer, authed, onAdmitted, describe }) {
    this.list = list;
    this.section = section;
    this.announcer = announcer;
    this.authed = authed;
    this.onAdmitted = onAdmitted;
    this.describe = describe;
    /** session_id → entry: { sessionId, beneficiaries, session, center, opensAt, status, announcedAt, offered } */
    this.entries = new Map();
    this.token = null;
    this.socket = null;
    this.retryMs = 1000;
    this.retryTimer = null;
    this.pollTimer = null;
  }

  /** Start for a login: the queues this account joined on this device come back, and are asked about at once. */
  start(token) {
    this.stop();
    this.token = token;
    const saved = this.load();
    for (const entry of saved) this.entries.set(entry.sessionId, { ...entry, status: null, announcedAt: 0, offered: false });
    this.render();
    if (this.entries.size) {
      this.connect();
      void this.pollAll();
    }
  }

  stop() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.pollTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    this.entries.clear();
    this.token = null;
    this.render();
  }

  has(sessionId) {
    return this.entries.has(sessionId);
  }

  get(sessionId) {
    return this.entries.get(sessionId);
  }

  /** Join: the place is the server's (one per account and per beneficiary, whatever the device). */
  async join({ session, center, beneficiaries }) {
    const { json } = await this.authed('POST', '/teeka/queue/join', { body: { session_id: session.session_id, beneficiaries } });
    const entry = {
      sessionId: session.session_id,
      beneficiaries,
      session,
      center,
      opensAt: Date.parse(json.opens_at ?? '') || null,
      status: { position: json.position ?? null, ahead: null, estimated_wait_seconds: null, admitted: false },
      announcedAt: 0,
      offered: false,
    };
    this.entries.set(entry.sessionId, entry);
    this.save();
    this.render();
    this.subscribe([entry.sessionId]);
    void this.poll(entry.sessionId);
    return entry;
  }

  /** The booking went through, or the citizen put the queue away: forget it on this device. */
  remove(sessionId) {
    if (!this.entries.delete(sessionId)) return;
    this.save();
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ unqueue: { session_id: sessionId } }));
    this.render();
  }

  /** The heading of a queue's panel, for moving the focus to it. */
  heading(sessionId) {
    return this.list.querySelector(`[data-queue-session="${CSS.escape(sessionId)}"] h3`);
  }

  // ---------------------------------------------------------------- remembered on this device

  storageKey() {
    return `${STORAGE_PREFIX}${accountOf(this.token) ?? 'unknown'}`;
  }

  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey()) ?? '[]');
      return Array.isArray(saved) ? saved.filter((e) => e && typeof e.sessionId === 'string' && e.session && e.center) : [];
    } catch {
      return [];
    }
  }

  save() {
    // the session and centre as found, so that after a reload the panel and the booking dialog need no search
    const saved = [...this.entries.values()].map(({ sessionId, beneficiaries, session, center, opensAt }) => ({ sessionId, beneficiaries, session, center, opensAt }));
    if (saved.length) localStorage.setItem(this.storageKey(), JSON.stringify(saved));
    else localStorage.removeItem(this.storageKey());
  }

  // ---------------------------------------------------------------- live: the WebSocket, and polling while it is away

  /**
   * The gateway's WebSocket (the one the availability feed uses, gateway/routes/queue.ts): each place
   * is followed with `{"queue":{"session_id","token"}}` (a browser's WebSocket cannot send headers, so
   * the login goes in the message, never in the URL), answered at once and then on every change.
   */
  connect() {
    clearTimeout(this.retryTimer);
    if (this.socket || !this.token || !this.entries.size) return;
    const socket = gatewaySocket('', (message) => {
      if (message.type === 'queue') this.apply(message.session_id, message);
      // the place cannot be followed here (no place, the login ended): the status call says which
      else if (message.type === 'error' && message.session_id) void this.poll(message.session_id);
    });
    this.socket = socket;
    this.setLive('connecting');
    socket.addEventListener('open', () => {
      this.retryMs = 1000;
      this.setLive('live');
      this.follow([...this.entries.keys()]);
      this.schedulePoll(CHECK_MS);
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.entries.size || !this.token) return;
      // the place is kept on the server for a grace period: ask for it until the socket is back
      this.setLive('reconnecting');
      this.schedulePoll(0);
      this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 15_000);
    });
  }

  follow(ids) {
    for (const id of ids) this.socket.send(JSON.stringify({ queue: { session_id: id, token: this.token } }));
  }

  subscribe(ids) {
    if (this.socket?.readyState === WebSocket.OPEN) this.follow(ids);
    else if (!this.socket) this.connect();
  }

  schedulePoll(ms) {
    clearTimeout(this.pollTimer);
    if (!this.entries.size) return;
    this.pollTimer = setTimeout(async () => {
      await this.pollAll();
      const live = this.socket?.readyState === WebSocket.OPEN;
      this.schedulePoll(live ? CHECK_MS : POLL_MS);
    }, ms);
  }

  async pollAll() {
    await Promise.all([...this.entries.keys()].map((id) => this.poll(id)));
  }

  async poll(sessionId) {
    if (!this.entries.has(sessionId)) return;
    try {
      const { json } = await this.authed('GET', `/teeka/queue/status?session_id=${encodeURIComponent(sessionId)}`);
      this.apply(sessionId, json);
    } catch (error) {
      if (error.loggedOut) return;
      const entry = this.entries.get(sessionId);
      if (!entry) return;
      // not in this queue any more (the opening ended, or the place lapsed): say so rather than wait on
      if (error.status === 404) this.apply(sessionId, { ...entry.status, gone: true });
      else this.setLive('reconnecting');
    }
  }

  setLive(liveState) {
    const line = this.section.querySelector('.live-status');
    if (!line) return;
    line.dataset.state = liveState;
    line.querySelector('.queue-live').textContent = t(`citizen.queue.live.${liveState}`);
  }

  // ---------------------------------------------------------------- one status

  /**
   * What a status (its `state`, gateway/queue-room.ts) means for the citizen: before the opening (no
   * place until the draw), waiting, their turn, booked, or over (the seats are gone, the turn lapsed
   * unused, the place was skipped for absence, the opening closed).
   */
  static phase(entry, status, now = Date.now()) {
    if (!status) return 'unknown';
    if (status.gone) return 'gone';
    switch (status.state) {
      case 'prequeue':
        return 'before';
      case 'admitted':
        return status.admission && admissionExpiry(status) > now ? 'admitted' : 'expired';
      case 'used':
        return 'used';
      case 'expired':
        return 'expired';
      case 'full':
        return 'soldOut';
      case 'lapsed':
      case 'closed':
        return 'gone';
      default:
        return 'waiting';
    }
  }

  apply(sessionId, status) {
    const entry = this.entries.get(sessionId);
    if (!entry || !status) return;
    const before = FairQueues.phase(entry, entry.status);
    entry.status = status;
    if (status.opens_at) entry.opensAt = Date.parse(status.opens_at) || entry.opensAt;
    const phase = FairQueues.phase(entry, status);
    this.renderEntry(entry);
    const changed = phase !== before;
    if (phase === 'admitted' && !entry.offered) {
      entry.offered = true;
      this.announce(t('citizen.queue.say.admitted', { time: formatTime(admissionExpiry(status)) }));
      this.onAdmitted(entry);
    } else if (changed && phase === 'soldOut') {
      this.announce(t('citizen.queue.say.soldOut'));
    } else if (changed && phase === 'gone') {
      this.announce(t('citizen.queue.say.gone'));
    } else if (phase === 'waiting' && status.position !== null && status.position !== undefined && (changed || Date.now() - entry.announcedAt >= ANNOUNCE_EVERY_MS)) {
      entry.announcedAt = Date.now();
      this.announce(this.positionSentence(status));
    }
    if (phase !== 'admitted') entry.offered = false;
  }

  positionSentence(status) {
    return t('citizen.queue.say.position', {
      position: formatNumber(status.position),
      count: status.ahead ?? 0,
      ahead: formatNumber(status.ahead ?? 0),
      wait: waitWords(status.estimated_wait_seconds),
    });
  }

  announce(text) {
    this.announcer.textContent = text;
  }

  // ---------------------------------------------------------------- drawing

  /** Draw every queue: items of queues left are removed, new ones appended, the others redrawn in place (focus stays). */
  render() {
    this.section.hidden = this.entries.size === 0;
    for (const item of [...this.list.children]) if (!this.entries.has(item.dataset.queueSession)) item.remove();
    for (const entry of this.entries.values()) {
      let item = this.list.querySelector(`[data-queue-session="${CSS.escape(entry.sessionId)}"]`);
      if (!item) {
        item = document.createElement('li');
        item.className = 'queue';
        item.dataset.queueSession = entry.sessionId;
        this.list.append(item);
      }
      this.fill(item, entry);
    }
  }

  renderEntry(entry) {
    const item = this.list.querySelector(`[data-queue-session="${CSS.escape(entry.sessionId)}"]`);
    if (item) this.fill(item, entry);
    else this.render();
  }

  /** One queue: the session, the figures (a definition list) and what to do now. */
  fill(item, entry) {
    const status = entry.status;
    const phase = FairQueues.phase(entry, status);
    item.dataset.phase = phase;
    const node = (tag, className, text) => {
      const n = document.createElement(tag);
      if (className) n.className = className;
      if (text !== undefined) n.textContent = text;
      return n;
    };
    // the heading stays in the document across updates (only the body below it is redrawn): a
    // focused element taken out, even for an instant, loses the focus
    let heading = item.querySelector('h3');
    let body = item.querySelector('.queue-body');
    if (!heading || !body) {
      heading = node('h3', '', '');
      heading.tabIndex = -1;
      heading.id = `queue-${entry.sessionId}`;
      body = node('div', 'queue-body');
      item.replaceChildren(heading, body);
    }
    heading.textContent = entry.center.name;
    const parts = [node('p', 'queue-session', this.describe(entry))];

    const figures = node('dl', 'facts queue-figures');
    const figure = (label, value, name) => {
      const row = node('div');
      row.dataset.figure = name;
      row.append(node('dt', '', label), node('dd', '', value));
      figures.append(row);
    };
    if (phase === 'before') {
      parts.push(node('p', 'queue-note', t('citizen.queue.beforeOpening', { time: formatTime(entry.opensAt) })));
    }
    if (phase === 'waiting' || phase === 'before') {
      const known = status && status.position !== null && status.position !== undefined;
      figure(t('citizen.queue.position'), known ? formatNumber(status.position) : t('citizen.queue.notDrawn'), 'position');
      if (phase === 'waiting') {
        figure(t('citizen.queue.ahead'), status?.ahead === null || status?.ahead === undefined ? '–' : formatNumber(status.ahead), 'ahead');
        figure(t('citizen.queue.wait'), waitWords(status?.estimated_wait_seconds), 'wait');
      }
      parts.push(figures);
      if (phase === 'waiting') parts.push(node('p', 'hint', t('citizen.queue.waitHint')));
      // honest: more places ahead than seats left (less those admitted places hold)
      if (phase === 'waiting' && status?.seats_may_run_out) parts.push(node('p', 'notice queue-warning', t('citizen.queue.mayRunOut')));
    } else if (phase === 'admitted') {
      parts.push(node('p', 'notice queue-turn', t('citizen.queue.yourTurn', { time: formatTime(admissionExpiry(status)) })));
      const book = node('button', 'primary', t('citizen.queue.bookNow'));
      book.type = 'button';
      book.addEventListener('click', () => this.onAdmitted(entry));
      parts.push(book);
    } else if (phase === 'expired') {
      parts.push(node('p', 'notice queue-ended', t('citizen.queue.expired')));
    } else if (phase === 'used') {
      parts.push(node('p', 'notice queue-turn', t('citizen.queue.used')));
    } else if (phase === 'soldOut') {
      parts.push(node('p', 'notice queue-ended', t('citizen.queue.soldOut')));
    } else if (phase === 'gone') {
      parts.push(node('p', 'notice queue-ended', t('citizen.queue.gone')));
    } else {
      parts.push(node('p', 'hint', t('common.loading')));
    }
    if (phase === 'soldOut' || phase === 'gone' || phase === 'expired' || phase === 'used') {
      const dismiss = node('button', 'link-button', t('citizen.queue.dismiss', { centre: entry.center.name }));
      dismiss.type = 'button';
      dismiss.addEventListener('click', () => {
        this.remove(entry.sessionId);
        this.section.querySelector('h2')?.focus();
      });
      parts.push(dismiss);
    }
    body.replaceChildren(...parts);
    for (const notice of body.querySelectorAll('.notice')) notice.dataset.kind = phase === 'admitted' || phase === 'used' ? 'success' : 'warning';
  }
}
