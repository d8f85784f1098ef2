/**
 * Assembles one gateway thread: the engine on this thread's Redis connections, the availability
 * book, the routes, the WebSocket route, and how errors become responses.
 */
import type { RedisClient } from '../engine/redis.js';
import type pg from 'pg';
import { isBackendUnavailable } from '../engine/backend-errors.js';
import { certificateIssuerOf, testMobilesOf, type TeekaConfig } from '../engine/config.js';
import { Certificates } from '../engine/certificates.js';
import { formatCowinDate as formatDate } from '../engine/dates.js';
import { BookingEngine, DEFAULT_REVOCATION_STREAM_CAP } from '../engine/engine.js';
import { Partitions } from '../engine/partitions.js';
import type { Country } from '../engine/masterdata.js';
import { Operators } from '../engine/operators.js';
import { Partners } from '../engine/partners.js';
import { REQUEST_ERRORS } from '../engine/status.js';
import { Authenticator } from './auth.js';
import { CorsPolicy } from './cors.js';
import { AvailabilityBook, DEFAULT_AVAILABILITY_OPTIONS, type AvailabilityOptions, type SessionAvailability } from './availability.js';
import type { GatewayContext, HealthReport } from './context.js';
import { apiError, Router, type HttpRequest, type HttpResponse } from './http.js';
import { GatewayMetrics } from './metrics.js';
import { otpSenderFor } from './otp-sender.js';
import { PartnerGate } from './partner-gate.js';
import { AccessWatch, logPersonalDataAccess } from './access-log.js';
import { accessLogRoutes } from './routes/access-log.js';
import { QueueRoom } from './queue-room.js';
import { QuotaGate } from './quota-gate.js';
import { RevocationBook } from './revocations.js';
import { appointmentRoutes } from './routes/appointments.js';
import { authRoutes } from './routes/auth.js';
import { beneficiaryRoutes } from './routes/beneficiaries.js';
import { centerRoutes } from './routes/centers.js';
import { metadataRoutes } from './routes/metadata.js';
import { operatorRoutes } from './routes/operators.js';
import { partnerRoutes } from './routes/partners.js';
import { vaccinatorRoutes } from './routes/vaccinator.js';
import { certificateRoutes } from './routes/certificates.js';
import { opsRoutes } from './routes/ops.js';
import { pageRoutes } from './routes/pages.js';
import { queueRoutes, queueSocketMessage } from './routes/queue.js';
import { sessionRoutes } from './routes/sessions.js';
import { PlaceChanges } from './place-changes.js';
import { SessionSearch } from './search.js';
import type { StatsSample } from './stats.js';
import type { SocketConnection, WebSocketRoute } from './uws-adapter.js';
import { bodySchemas, urlTextProblem } from './validation.js';
import { PostgresPartnerLedger } from '../worker/partners.js';

export interface GatewayDependencies {
  config: TeekaConfig;
  country: Country;
  /** fail-fast connection for requests (no offline queue) */
  redis: RedisClient;
  /** a connection of its own for the blocking availability stream read */
  streamRedis: RedisClient;
  /** a connection of its own for the blocking revocation stream read */
  revocationRedis: RedisClient;
  pgPool: pg.Pool;
  metricsText: () => string;
  queueDepth: () => unknown;
  stats: () => StatsSample[];
  /** changes to fair admission places, shared with the process's other threads (PlaceChanges.allocate) */
  placeChanges?: SharedArrayBuffer;
  availability?: Partial<AvailabilityOptions>;
}

export interface Gateway {
  context: GatewayContext;
  router: Router;
  handle: (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;
  onError: (error: unknown, request: HttpRequest) => HttpResponse;
  websocket: WebSocketRoute;
  /** called with the server's publish once it listens */
  attachPublisher: (publish: (topic: string, text: string) => void, subscribers: (topic: string) => number) => void;
  stop: () => Promise<void>;
}

/** Every route module, in the order their routes are added (tests walk them all). */
export const ROUTE_MODULES: readonly ((router: Router, ctx: GatewayContext) => void)[] = [
  authRoutes,
  metadataRoutes,
  sessionRoutes,
  centerRoutes,
  beneficiaryRoutes,
  appointmentRoutes,
  queueRoutes,
  operatorRoutes,
  partnerRoutes,
  accessLogRoutes,
  vaccinatorRoutes,
  certificateRoutes,
  opsRoutes,
  pageRoutes,
];

export const districtTopic = (districtId: number) => `district:${districtId}`;

export async function createGateway(deps: GatewayDependencies): Promise<Gateway> {
  const { config, country } = deps;
  const engine = new BookingEngine(deps.redis, {
    country,
    secret: config.secret,
    clock: config.clock,
    testMobiles: testMobilesOf(config, country),
    securityCodeMaxWrong: config.securityCodeMaxWrong,
    certificates: certificateIssuerOf(config),
    durability: config.durability,
    coalesce: config.coalesce,
    partitions: new Partitions(config.partitions),
    layout: config.layout,
  });
  const operators = new Operators(deps.redis, engine.scripts, config.clock);
  const certificates = new Certificates(
    deps.redis,
    engine.scripts,
    config.clock,
    engine.certificates.ring,
    engine.certificates.issuer,
    engine.layout === 'partitioned' ? engine.partitions : undefined,
  );
  const metrics = new GatewayMetrics();
  metrics.followBatches('consumeSearchQuota', engine.searchQuotas.counts);
  metrics.followBatches('bookAppointment', engine.bookings.counts);
  const availability = { ...DEFAULT_AVAILABILITY_OPTIONS, ...deps.availability };
  const book = new AvailabilityBook(engine, deps.streamRedis, availability, metrics.lagObserver('availability'));
  const revocations = new RevocationBook(
    engine,
    deps.revocationRedis,
    { tokenTtlMs: country.rules.token_ttl_seconds * 1000, capacity: DEFAULT_REVOCATION_STREAM_CAP, blockMs: availability.blockMs },
    metrics.lagObserver('revocations'),
  );
  const partnerRegistry = new Partners(deps.redis, engine.scripts, config.clock, new PostgresPartnerLedger(deps.pgPool));
  // the partner stream's follower blocks a connection of its own, a duplicate of the revocations'
  const quotas = new QuotaGate(engine, revocations, metrics);
  const partners = new PartnerGate(partnerRegistry, deps.revocationRedis.duplicate(), config.clock, metrics, quotas, availability.blockMs);
  await Promise.all([book.start(), revocations.start(), partners.start()]);

  const health = async (): Promise<HealthReport> => {
    const [redis, postgres] = await Promise.all([
      deps.redis.ping().then(
        () => 'ok',
        (err: Error) => `down: ${err.message}`,
      ),
      deps.pgPool.query('select 1').then(
        () => 'ok',
        (err: Error) => `down: ${err.message}`,
      ),
    ]);
    return { redis, postgres };
  };

  const context: GatewayContext = {
    config,
    country,
    engine,
    operators,
    partnerRegistry,
    partners,
    accessWatch: new AccessWatch({ redis: deps.redis, clock: config.clock, metrics, operators, partnerRegistry, partners }, config.accessLog),
    certificates,
    database: deps.pgPool,
    book,
    revocations,
    quotas,
    search: new SessionSearch(country, book),
    queueRoom: new QueueRoom({ engine, book, metrics }, new PlaceChanges(deps.placeChanges)),
    metrics,
    auth: new Authenticator(engine, config.secret, country.rules.token_ttl_seconds, operators, revocations, metrics),
    schemas: bodySchemas(country, config.clock),
    sendOtp: otpSenderFor(config),
    health,
    metricsText: deps.metricsText,
    queueDepth: deps.queueDepth,
    stats: deps.stats,
  };

  context.queueRoom.start();

  const router = new Router();
  for (const addRoutes of ROUTE_MODULES) addRoutes(router, context);
  // every personal-data route, wrapped so each call appends its access log entry before answering
  logPersonalDataAccess(router, context);

  const cors = new CorsPolicy(config.corsOrigins);

  const handle = (request: HttpRequest): HttpResponse | Promise<HttpResponse> => {
    if (request.method === 'OPTIONS') {
      const served = router.methodsOf(request.path);
      if (!served) return apiError(REQUEST_ERRORS.notFound());
      request.route = served.name;
      return cors.preflight(request, served.name, served.methods);
    }
    const match = router.match(request.method, request.path);
    if (match === null) return apiError(REQUEST_ERRORS.notFound());
    if (match === 'method') return apiError(REQUEST_ERRORS.methodNotAllowed());
    request.params = match.params;
    request.route = match.name;
    // every route's query and path parameters pass the one text check (bodies pass it in parseBody)
    const badText = urlTextProblem(request);
    if (badText) return apiError(badText);
    const response = match.handler(request);
    // most requests come from apps and bots, not browsers: no Origin, nothing to add
    return request.headers.origin ? cors.apply(request, match.name, response) : response;
  };

  const onError = (error: unknown, request: HttpRequest): HttpResponse => {
    if (isBackendUnavailable(error)) return apiError(REQUEST_ERRORS.unavailable(), { 'retry-after': '1' });
    console.error(`${request.method} ${request.path} failed:`, error);
    return apiError(REQUEST_ERRORS.internal());
  };

  // WebSocket: availability pushes per district
  const districtIds = new Set(country.data.districts.map((d) => d.district_id));
  const parseDistricts = (value: unknown): number[] | string => {
    const list = typeof value === 'string' ? value.split(',').filter(Boolean) : value;
    if (!Array.isArray(list) || list.length > 50) return 'expected up to 50 district ids';
    const ids = list.map(Number);
    const unknown = ids.find((id) => !districtIds.has(id));
    return unknown === undefined ? ids : `unknown district id: ${String(unknown).slice(0, 20)}`;
  };
  const websocket: WebSocketRoute = {
    path: '/teeka/ws/availability',
    accept: (query) => {
      const districts = query.get('district_id');
      if (districts === null) return null;
      const parsed = parseDistricts(districts);
      return typeof parsed === 'string' ? apiError(REQUEST_ERRORS.badRequest(parsed)) : null;
    },
    onOpen: (socket: SocketConnection, query) => {
      metrics.socketOpened();
      const districts = query.get('district_id');
      const ids = districts ? (parseDistricts(districts) as number[]) : [];
      for (const id of ids) socket.subscribe(districtTopic(id));
      socket.send(JSON.stringify({ type: 'subscribed', district_ids: ids }));
    },
    onMessage: (socket, text) => {
      let message: { subscribe?: unknown; unsubscribe?: unknown; queue?: unknown; unqueue?: unknown };
      try {
        message = JSON.parse(text) as typeof message;
      } catch {
        socket.send(JSON.stringify({ type: 'error', error: 'expected JSON like {"subscribe":[140]}' }));
        return;
      }
      // a citizen's place in a queue (fair admission): routes/queue.ts
      if (message?.queue !== undefined || message?.unqueue !== undefined) {
        queueSocketMessage(context, socket, message);
        return;
      }
      for (const [action, value] of [['subscribe', message?.subscribe], ['unsubscribe', message?.unsubscribe]] as const) {
        if (value === undefined) continue;
        const ids = parseDistricts(value);
        if (typeof ids === 'string') {
          socket.send(JSON.stringify({ type: 'error', error: ids }));
          return;
        }
        for (const id of ids) socket[action](districtTopic(id));
        socket.send(JSON.stringify({ type: `${action}d`, district_ids: ids }));
      }
    },
    onClose: (socket) => {
      metrics.socketClosed();
      context.queueRoom.forget(socket);
    },
  };

  let publish: ((topic: string, text: string) => void) | undefined;
  let subscribers: (topic: string) => number = () => 0;
  book.onChange((changes: SessionAvailability[]) => {
    if (!publish) return;
    const byDistrict = new Map<number, SessionAvailability[]>();
    for (const change of changes) {
      const list = byDistrict.get(change.district_id);
      if (list) list.push(change);
      else byDistrict.set(change.district_id, [change]);
    }
    for (const [districtId, list] of byDistrict) {
      // in a rush every booking changes a session: build a message only for districts someone follows
      if (subscribers(districtTopic(districtId)) === 0) continue;
      publish(
        districtTopic(districtId),
        JSON.stringify({
          type: 'availability',
          district_id: districtId,
          sessions: list.map((c) => ({
            session_id: c.session_id,
            date: formatDate(c.date),
            available_capacity: c.available_capacity_dose1 + c.available_capacity_dose2,
            available_capacity_dose1: c.available_capacity_dose1,
            available_capacity_dose2: c.available_capacity_dose2,
            changed_at: c.changed_at,
          })),
        }),
      );
    }
  });

  return {
    context,
    router,
    handle,
    onError,
    websocket,
    attachPublisher: (fn, count) => {
      publish = fn;
      subscribers = count;
    },
    stop: async () => {
      context.queueRoom.stop();
      await Promise.all([book.stop(), revocations.stop(), partners.stop()]);
    },
  };
}
