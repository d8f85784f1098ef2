/**
 * Which routes read or change personal data, and the wrapper that logs every call to them
 * (engine/access-log.ts): when, who (the token's citizen account or operator, the partner whose key
 * the call carried), from where, what (the route and the people and records it named, from the
 * request and from the answer), and the status answered. The entry is in the outbox before the
 * answer leaves, so no answer carrying personal data goes unlogged (Redis down: 503, nothing shown).
 *
 * Every route of the gateway is in exactly one of the two tables below; a route added to the
 * gateway and to neither fails test/gateway/access-log.test.ts, so a new personal-data route cannot
 * ship without its log.
 *
 * The watch (the 2023 pattern: a staff account reading far more people than its work explains):
 * each operator's and partner's distinct people are counted in a window as their entries are
 * appended (one script); past the configured number for its role the reader is flagged (metrics,
 * the dashboard, GET /teeka/admin/access-log/flagged) and, when configured, suspended at once. A
 * vaccinator's work is its centres' appointments of the day: those are not counted, the records it
 * reaches for outside them are (CENTRE_WORK_ROUTES).
 */
import type { AccessLogOptions } from '../engine/config.js';
import { AccessLog, peopleOf, type AccessActorKind, type AccessEntry, type BookingAccess, type CountedReader } from '../engine/access-log.js';
import { keys } from '../engine/keys.js';
import { parseApiKey } from '../engine/partners.js';
import type { Operators } from '../engine/operators.js';
import type { Partners } from '../engine/partners.js';
import type { RedisClient } from '../engine/redis.js';
import type { GatewayContext } from './context.js';
import { jsonValueOf, type Handler, type HttpRequest, type HttpResponse, type Router } from './http.js';
import type { GatewayMetrics } from './metrics.js';
import type { PartnerGate } from './partner-gate.js';

/** `METHOD pattern` of every route that reads or changes someone's personal data. */
export const PERSONAL_DATA_ROUTES: readonly string[] = [
  // a citizen's own beneficiaries and appointments (also a partner's calls on the citizen's behalf)
  'GET /api/v2/appointment/beneficiaries',
  'POST /api/v2/registration/beneficiary/new',
  'POST /api/v2/registration/beneficiary/delete',
  'POST /api/v2/appointment/schedule',
  'POST /api/v2/appointment/reschedule',
  'POST /api/v2/appointment/cancel',
  // fair admission: a citizen joins a queue with their beneficiaries; an auditor reads who was shuffled where
  'POST /teeka/queue/join',
  'GET /teeka/admin/queue/audit',
  'GET /api/v2/appointment/appointmentslip/download',
  'GET /api/v2/registration/certificate/public/download',
  // a vaccinator's lookups and actions at the centre
  'GET /teeka/vaccinator/day',
  'GET /teeka/vaccinator/appointments/:appointment_id',
  'POST /teeka/vaccinator/vaccinate',
  'POST /teeka/vaccinator/walk-in',
  // an admin's
  'POST /teeka/admin/certificates/revoke',
  'GET /teeka/admin/access-log',
];

/** `METHOD pattern` of every route that reads no one's personal data, and why not. */
export const NOT_PERSONAL_ROUTES: Readonly<Record<string, string>> = {
  'POST /api/v2/auth/public/generateOTP': 'login: the OTP goes to the mobile, nothing is shown',
  'POST /api/v2/auth/public/confirmOTP': 'login: answers a token only',
  'POST /api/v2/auth/generateMobileOTP': 'login: the OTP goes to the mobile, nothing is shown',
  'POST /api/v2/auth/validateMobileOtp': 'login: answers a token only',
  'POST /api/v2/auth/getRecaptcha': 'a captcha image',
  'GET /api/v2/admin/location/states': 'master data',
  'GET /api/v2/admin/location/districts/:state_id': 'master data',
  'GET /api/v2/registration/beneficiary/genders': 'master data',
  'GET /api/v2/registration/beneficiary/idTypes': 'master data',
  'GET /api/v2/appointment/centers/public/findByLatLong': 'centres',
  'GET /api/v2/appointment/sessions/public/findByPin': 'sessions',
  'GET /api/v2/appointment/sessions/public/findByDistrict': 'sessions',
  'GET /api/v2/appointment/sessions/public/calendarByPin': 'sessions',
  'GET /api/v2/appointment/sessions/public/calendarByDistrict': 'sessions',
  'GET /api/v2/appointment/sessions/public/calendarByCenter': 'sessions',
  'GET /api/v2/appointment/sessions/findByPin': 'sessions (the caller is counted by its quota, not shown data)',
  'GET /api/v2/appointment/sessions/findByDistrict': 'sessions',
  'GET /api/v2/appointment/sessions/calendarByPin': 'sessions',
  'GET /api/v2/appointment/sessions/calendarByDistrict': 'sessions',
  'GET /api/v2/appointment/sessions/calendarByCenter': 'sessions',
  'POST /teeka/auth/operator': 'operator login: answers a token only',
  'POST /teeka/admin/operators': 'staff credentials, recorded through the outbox (operators table)',
  'POST /teeka/admin/operators/revoke': 'staff credentials, recorded through the outbox',
  'GET /teeka/admin/operators': 'staff records, no citizen data',
  'POST /teeka/admin/sessions': 'sessions',
  'GET /teeka/admin/sessions': 'sessions and seat counts',
  'POST /teeka/admin/partners': 'partner registry',
  'GET /teeka/admin/partners': 'partner registry',
  'POST /teeka/admin/partners/keys': 'partner registry',
  'POST /teeka/admin/partners/keys/revoke': 'partner registry',
  'GET /teeka/admin/access-log/flagged': 'which staff or partners were flagged, not whom they read',
  'GET /.well-known/jwks.json': "the certificate issuer's public keys",
  'GET /.well-known/crl/:file': 'revocation ids only (random, name no one)',
  'GET /healthz': 'health',
  'GET /metrics': 'counters',
  'GET /teeka/ops/stats': 'rates',
  'GET /teeka/ops/queue': 'queue depth',
  'GET /teeka/queue/status': "the caller's own place in a queue: a position and their admission, no one's personal data",
  'GET /teeka/ops/openings': 'counts per opening under fair admission',
  'GET /': 'pages',
  'GET /dashboard': 'pages',
  'GET /verify': 'pages: verifying a certificate happens in the browser',
  'GET /assets/:release/:file': 'pages',
};

/**
 * The routes whose every answer is a vaccinator's own work: the day's appointments at its centres
 * (gateway/routes/vaccinator.ts answers 404 for anything else). What a vaccinator is shown through
 * them is explained by its work and not counted by the watch; what it reaches for there and is
 * refused (an appointment of another centre or day, a guessed id) is.
 */
const CENTRE_WORK_ROUTES: ReadonlySet<string> = new Set([
  'GET /teeka/vaccinator/day',
  'GET /teeka/vaccinator/appointments/:appointment_id',
  'POST /teeka/vaccinator/vaccinate',
  'POST /teeka/vaccinator/walk-in',
]);

/** Fields that name a person or a record, and what they name. */
const ID_FIELDS: Readonly<Record<string, string>> = {
  beneficiary_reference_id: 'beneficiary',
  beneficiaries: 'beneficiary',
  beneficiariesToCancel: 'beneficiary',
  appointment_id: 'appointment',
  appointment_confirmation_no: 'appointment',
  certificate_id: 'certificate',
};
/** An entry names this many objects at most (a day view of a large centre). */
const MAX_OBJECTS = 1000;

/** Every `kind:id` the value names, at any depth (ids in lists under an id field, objects with id fields). */
function collectIds(value: unknown, into: Set<string>, kind?: string): void {
  if (into.size >= MAX_OBJECTS) return;
  if (Array.isArray(value)) {
    for (const item of value) collectIds(item, into, kind);
  } else if (value !== null && typeof value === 'object') {
    // for-in over a parsed JSON value (own plain fields only): no array of entries per object
    for (const field in value) collectIds((value as Record<string, unknown>)[field], into, ID_FIELDS[field]);
  } else if (kind && (typeof value === 'string' || typeof value === 'number') && String(value) !== '') {
    into.add(`${kind}:${value}`);
  }
}

function parsedJson(text: string | Uint8Array | Buffer | null | undefined): unknown {
  if (text === null || text === undefined || text.length === 0) return undefined;
  try {
    return JSON.parse(typeof text === 'string' ? text : Buffer.from(text).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The people and records a call named: in its query, path and body, and in a JSON answer. */
export function objectsOf(request: HttpRequest, response: HttpResponse): string[] {
  const found = new Set<string>();
  for (const [name, value] of request.query) if (ID_FIELDS[name]) found.add(`${ID_FIELDS[name]}:${value}`);
  // an admin's question to the log names its person as `object=beneficiary:<id>`
  const asked = request.query.get('object');
  if (asked !== null && /^[a-z]+:./.test(asked)) found.add(asked);
  for (const name in request.params) if (ID_FIELDS[name]) found.add(`${ID_FIELDS[name]}:${request.params[name]}`);
  // the route's parseBody has usually read the body already
  collectIds(request.bodyValue !== undefined ? request.bodyValue : parsedJson(request.body), found);
  const type = response.headers?.['content-type'] ?? '';
  if (response.status < 300 && type.startsWith('application/json')) collectIds(jsonValueOf(response) ?? parsedJson(response.body), found);
  return Array.from(found);
}

/** Who made a call, as an entry names them. */
type Caller = { kind: AccessActorKind; actor: string; partner: string };

/** Who is asking, from the verified token and the key's partner id (the key was checked by the route's guard). */
function callerOf(ctx: GatewayContext, request: HttpRequest): Caller {
  const claims = ctx.auth.claims(request);
  const partner = request.headers['x-api-key'] ? (parseApiKey(request.headers['x-api-key'])?.partnerId ?? '') : '';
  if (!claims) return { kind: 'anonymous', actor: '', partner };
  return { kind: claims.role, actor: claims.sub, partner };
}

/** The watch on operators and partners: who is flagged, and what flagging does. */
export class AccessWatch {
  /** reader → engine ms until which this thread has flagged it already (once per window) */
  private readonly flaggedHere = new Map<string, number>();

  constructor(
    private readonly deps: {
      redis: RedisClient;
      clock: () => number;
      metrics: GatewayMetrics;
      operators: Operators;
      partnerRegistry: Partners;
      partners: PartnerGate;
    },
    readonly options: AccessLogOptions,
  ) {}

  /** Which reader a call is counted for: the partner when it carried a key, else an operator; citizens are not. */
  readerOf(caller: Caller): (CountedReader & { threshold: number }) | undefined {
    const { windowMs, flagAbove } = this.options;
    if (caller.partner) return { reader: `partner:${caller.partner}`, windowMs, threshold: flagAbove.partner };
    if (caller.kind === 'vaccinator' || caller.kind === 'admin') return { reader: `operator:${caller.actor}`, windowMs, threshold: flagAbove[caller.kind] };
    return undefined;
  }

  /**
   * What an entry of a counted reader counts toward its window: the people it was shown, except a
   * vaccinator's work at its own centres, where only the records it reached for and was refused
   * count (the 2023 pattern: reading people outside the appointments one's work brings).
   */
  countedObjects(caller: { kind: AccessActorKind; partner: string }, entry: AccessEntry): readonly string[] {
    if (caller.kind === 'vaccinator' && !caller.partner && CENTRE_WORK_ROUTES.has(`${entry.method} ${entry.route}`)) {
      return entry.status < 300 ? [] : entry.objects;
    }
    return entry.status < 300 ? peopleOf(entry) : [];
  }

  /** The reader read `distinct` people in its window; past its threshold it is flagged (and suspended when configured). */
  async observe(reader: CountedReader & { threshold: number }, distinct: number): Promise<void> {
    if (distinct <= reader.threshold) return;
    const now = this.deps.clock();
    if ((this.flaggedHere.get(reader.reader) ?? 0) > now) return;
    this.flaggedHere.set(reader.reader, now + reader.windowMs);
    this.deps.metrics.accessFlagged(reader.reader.slice(0, reader.reader.indexOf(':')), reader.reader);
    await this.deps.redis.zadd(keys.accessFlagged(), now, reader.reader);
    console.error(`access watch: ${reader.reader} read ${distinct} distinct people in its window (more than ${reader.threshold})`);
    if (this.options.suspendFlagged) await this.suspend(reader.reader);
  }

  private async suspend(reader: string): Promise<void> {
    const [kind, id] = [reader.slice(0, reader.indexOf(':')), reader.slice(reader.indexOf(':') + 1)];
    if (kind === 'operator') {
      await this.deps.operators.revoke(id, 'access-watch');
      return;
    }
    const partner = await this.deps.partnerRegistry.get(id);
    if (!partner || partner.status === 'suspended') return;
    await this.deps.partnerRegistry.register({ ...partner, status: 'suspended' }, 'access-watch');
    this.deps.partners.forgetPartner(id);
  }

  /** Flagged readers, most recent first, with when (engine ms). */
  async flagged(): Promise<{ reader: string; at: number }[]> {
    const list = await this.deps.redis.zrevrange(keys.accessFlagged(), 0, 999, 'WITHSCORES');
    const flagged: { reader: string; at: number }[] = [];
    for (let i = 0; i + 1 < list.length; i += 2) flagged.push({ reader: list[i]!, at: Number(list[i + 1]) });
    return flagged;
  }
}

/**
 * Which answers are entries: a read or change that happened (2xx), and a reach for a record that is
 * not the caller's, refused (403, 404). Not: 401 (no one authenticated, nothing shown), 400 (the
 * request was malformed), 409 and the like (a refused booking reads and changes nothing; in a rush
 * the gateway answers most of them from memory, and logging them would cost Redis a call each).
 */
export function isAccessEntry(status: number): boolean {
  return (status >= 200 && status < 300) || status === 403 || status === 404;
}

/**
 * For a citizen's booking, whose booking script carries the call's entry in the appointment's own
 * outbox entry: what the script needs (the route and the client's address), and `logged`, to hand
 * back the accepted booking's answer through; or undefined when the wrapper logs this call itself
 * (the log is off, or the reader is counted by the watch, which needs its own script). The entry so
 * carried is `bookingAccessEntry`'s (engine/access-log.ts): the entry `entryOf` makes of a booking
 * call and its booked answer, so only a route whose accepted answer is that may use this. (A
 * booking made but answered 503 because the replicas fell short keeps its entry, as it keeps the
 * booking: it was made, and the client may learn of it by its retry.)
 */
export function accessInScript(request: HttpRequest): { access: BookingAccess; logged: (answer: HttpResponse) => HttpResponse } | undefined {
  const pending = request.accessInScript;
  if (!pending) return undefined;
  return {
    access: { route: `${methodOf(request)} ${request.route}`, address: request.remoteAddress },
    logged: (answer) => {
      pending.loggedAnswer = answer;
      return answer;
    },
  };
}

/** The method an entry names: HEAD reads what GET reads. */
function methodOf(request: HttpRequest): string {
  return request.method === 'HEAD' ? 'GET' : request.method;
}

/**
 * Log every call of `handler` (a personal-data route) that answered an entry's status, before the
 * answer leaves. An answer that is no entry and came at once (a booking refused from memory, most
 * of a rush) leaves at once too: no promise and no turn of its own.
 */
function logged(ctx: GatewayContext, log: AccessLog, watch: AccessWatch, handler: Handler): Handler {
  return (request) => {
    const caller = callerOf(ctx, request);
    const reader = watch.readerOf(caller);
    // a reader the watch counts needs its own script (appendAccessEntry-2); anyone else's entry may
    // ride in the route's (a citizen's booking): only the very answer the route hands back through
    // `accessInScript(request).logged` counts as logged
    if (!reader) request.accessInScript = {};
    const answered = handler(request);
    const record = (response: HttpResponse): HttpResponse | Promise<HttpResponse> => {
      if (!isAccessEntry(response.status)) return response;
      if (request.accessInScript?.loggedAnswer === response) return response;
      return appendEntry(log, watch, caller, reader, entryOf(ctx, request, caller, response)).then(() => response);
    };
    return answered instanceof Promise ? answered.then(record) : record(answered);
  };
}

/** Append an answer's entry; a reader the watch counts has its reads counted in the same script. */
async function appendEntry(log: AccessLog, watch: AccessWatch, caller: Caller, reader: ReturnType<AccessWatch['readerOf']>, entry: AccessEntry): Promise<void> {
  const counts = reader ? watch.countedObjects(caller, entry) : [];
  if (!reader || counts.length === 0) {
    await log.append(entry);
    return;
  }
  await watch.observe(reader, await log.append(entry, reader, counts));
}

/** The entry of one answer. */
function entryOf(ctx: GatewayContext, request: HttpRequest, caller: Caller, response: HttpResponse): AccessEntry {
  const objects = objectsOf(request, response);
  // a citizen's own record is what every one of their calls reads or changes
  if (caller.kind === 'citizen') objects.unshift(`account:${caller.actor}`);
  return {
    at: ctx.engine.now(),
    actor_kind: caller.kind,
    actor: caller.actor,
    partner: caller.partner,
    address: request.remoteAddress,
    method: methodOf(request),
    route: request.route,
    objects: objects.length > MAX_OBJECTS ? objects.slice(0, MAX_OBJECTS) : objects,
    status: response.status,
  };
}

/**
 * Wrap every personal-data route of `router` with the access log (a route in the table that the
 * router lacks is a mistake, and throws), unless the log is turned off.
 */
export function logPersonalDataAccess(router: Router, ctx: GatewayContext): void {
  if (!ctx.config.accessLog.enabled) return;
  const log = new AccessLog(ctx.engine.scripts, () => ctx.engine.now());
  for (const route of PERSONAL_DATA_ROUTES) {
    const space = route.indexOf(' ');
    router.wrap(route.slice(0, space), route.slice(space + 1), (handler) => logged(ctx, log, ctx.accessWatch, handler));
  }
}
