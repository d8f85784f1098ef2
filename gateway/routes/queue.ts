/**
 * Fair admission's API (engine/fair-admission.ts, README "Fair admission"): a citizen joins the queue
 * of a session and follows their place (HTTP or the WebSocket); the operators' dashboard reads the
 * openings' numbers; an auditor reads the shuffle's seed to replay it.
 */
import { replayShuffle } from '../../engine/fair-admission.js';
import type { SessionState } from '../../engine/sessions.js';
import { apiErrorFor, REQUEST_ERRORS, Status } from '../../engine/status.js';
import { isResponse, outcomeResponse } from '../auth.js';
import type { GatewayContext } from '../context.js';
import { citizenOnly, operatorOnly } from '../guards.js';
import { apiError, json, type HttpResponse, type Router } from '../http.js';
import { queueStatusBody, socketErrorOf } from '../queue-room.js';
import type { SocketConnection } from '../uws-adapter.js';
import { parseBody } from '../validation.js';

const SESSION_ID = /^[0-9a-fA-F-]{8,64}$/;
const NO_STORE = { 'cache-control': 'no-store' };

/** The session a queue call names: in this thread's book, else read (just published elsewhere). */
async function sessionNamed(ctx: GatewayContext, sessionId: string): Promise<SessionState | null> {
  return ctx.book.sessions.get(sessionId) ?? (await ctx.engine.getSession(sessionId));
}

export function queueRoutes(router: Router, ctx: GatewayContext): void {
  const { engine } = ctx;

  router.post(
    '/teeka/queue/join',
    citizenOnly(ctx, async (request, citizen) => {
      const body = parseBody(request, ctx.schemas.queueJoin);
      if (!body.ok) return apiError(body.error);
      const session = await sessionNamed(ctx, body.value.session_id);
      if (!session) return apiError(apiErrorFor(Status.SESSION_NOT_FOUND));
      const outcome = await engine.fairAdmission.join(session, citizen.accountId, body.value.beneficiaries);
      // a status this thread kept from before the join (not found, or a place since expired) is outdated
      ctx.queueRoom.placeChanged(session.session_id, citizen.accountId);
      if (!outcome.ok) return outcomeResponse(outcome);
      const { place } = outcome;
      return json(
        200,
        {
          session_id: session.session_id,
          // null in the pre-queue: the shuffle at opens_at gives the position
          position: place.ahead === null ? null : place.ahead + 1,
          opens_at: new Date(session.opens_at).toISOString(),
          state: place.state === 'pre' ? 'prequeue' : place.state,
          joined: outcome.joinedNow,
        },
        NO_STORE,
      );
    }),
  );

  router.get(
    '/teeka/queue/status',
    citizenOnly(ctx, async (request, citizen) => {
      const sessionId = request.query.get('session_id') ?? '';
      if (!SESSION_ID.test(sessionId)) return apiError(REQUEST_ERRORS.badRequest('session_id: expected an id'));
      const session = await sessionNamed(ctx, sessionId);
      if (!session) return apiError(apiErrorFor(Status.SESSION_NOT_FOUND));
      // from this thread's memory within a second unless it learnt of a change (gateway/queue-room.ts)
      const outcome = await ctx.queueRoom.status(session, citizen.accountId);
      if (!outcome.ok) return outcomeResponse(outcome);
      return json(200, queueStatusBody(session, outcome.queue, engine.now()), NO_STORE);
    }),
  );

  // the dashboard's numbers per opening (this thread's view: every thread takes turns for every opening)
  router.get(
    '/teeka/ops/openings',
    operatorOnly(ctx, 'admin', () => json(200, { openings: ctx.queueRoom.openings() }, NO_STORE)),
  );

  // an auditor's replay: the seed, the pre-queue in join order, and the order the shuffle gave
  router.get(
    '/teeka/admin/queue/audit',
    operatorOnly(ctx, 'admin', async (request) => {
      const sessionId = request.query.get('session_id') ?? '';
      if (!SESSION_ID.test(sessionId)) return apiError(REQUEST_ERRORS.badRequest('session_id: expected an id'));
      const audit = await engine.fairAdmission.audit(sessionId);
      if (!audit) return apiError(REQUEST_ERRORS.notFound());
      return json(
        200,
        {
          session_id: sessionId,
          algorithm:
            'Fisher-Yates from the last item over the pre-queue in join order, j = x mod i + 1 with x from Park-Miller x = x * 48271 mod 2147483647 started at seed (engine/fair-admission.ts replayShuffle)',
          seed: audit.seed,
          joined: audit.joined,
          order: audit.order,
          replays: JSON.stringify(replayShuffle(audit.seed, audit.joined)) === JSON.stringify(audit.order),
        },
        NO_STORE,
      );
    }),
  );
}

/**
 * A citizen's queue message on the WebSocket (gateway/app.ts hands them here):
 * `{"queue":{"session_id":"…","token":"<citizen token>"}}` follows the place (answered at once with a
 * `queue` message, then pushed on every change); `{"unqueue":{"session_id":"…"}}` stops.
 */
export function queueSocketMessage(ctx: GatewayContext, socket: SocketConnection, message: { queue?: unknown; unqueue?: unknown }): void {
  const fail = (error: string, session_id?: string) => socket.send(JSON.stringify({ type: 'error', ...(session_id ? { session_id } : {}), error }));
  const asked = (message.queue ?? message.unqueue) as { session_id?: unknown; token?: unknown } | null;
  const sessionId = typeof asked?.session_id === 'string' && SESSION_ID.test(asked.session_id) ? asked.session_id : null;
  if (!sessionId) return fail('expected {"queue":{"session_id":"…","token":"…"}} or {"unqueue":{"session_id":"…"}}');
  if (message.unqueue !== undefined) {
    ctx.queueRoom.unsubscribe(socket, sessionId);
    socket.send(JSON.stringify({ type: 'unqueued', session_id: sessionId }));
    return;
  }
  if (typeof asked?.token !== 'string') return fail('token: required (the citizen token)', sessionId);
  const token = asked.token;
  void (async () => {
    const citizen = await ctx.auth.citizenOfToken(token);
    if (isResponse(citizen)) return sendRefusal(socket, sessionId, citizen);
    const session = await sessionNamed(ctx, sessionId);
    if (!session) return socket.send(JSON.stringify({ type: 'error', session_id: sessionId, ...socketErrorOf(Status.SESSION_NOT_FOUND) }));
    if (!session.fair) return socket.send(JSON.stringify({ type: 'error', session_id: sessionId, ...socketErrorOf(Status.QUEUE_OFF) }));
    await ctx.queueRoom.subscribe(socket, session, citizen.accountId);
  })().catch((err: unknown) => {
    console.error('queue subscription failed:', (err as Error).message);
    fail('the queue could not be read, please retry', sessionId);
  });
}

function sendRefusal(socket: SocketConnection, sessionId: string, response: HttpResponse): void {
  let body: unknown = {};
  try {
    body = JSON.parse(String(response.body));
  } catch {
    // not JSON: the type and session say enough
  }
  socket.send(JSON.stringify({ type: 'error', session_id: sessionId, ...(body as object) }));
}
