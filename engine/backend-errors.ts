/**
 * Tells an outage of a backing service (Redis, PostgreSQL, the SMS provider) from a bug. An outage
 * is answered 503 with Retry-After, since the same request may succeed in a moment; a bug is a 500,
 * and logged. The decision reads the error's class, its code or SQLSTATE, never a word of its
 * message, which a bug's message may contain as well ("cannot connect the dots"). The few outages
 * the client libraries report as a plain Error are recognised by their exact text, listed below
 * with the library that throws each.
 */

/** Node's codes for a peer that cannot be reached or went away (socket and DNS). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * PostgreSQL SQLSTATEs of a database that cannot serve now: class 08 (connection exception), 57P01
 * admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up), 53300 too many
 * connections.
 */
function isPostgresUnavailable(sqlState: string): boolean {
  return /^08[0-9A-Z]{3}$/.test(sqlState) || ['57P01', '57P02', '57P03', '53300'].includes(sqlState);
}

/**
 * Redis error replies (their first word) that mean "not now": loading its data after a restart, a
 * script running past its time limit, a replica or cluster during failover.
 */
const REDIS_NOT_NOW = new Set(['LOADING', 'BUSY', 'READONLY', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN']);

/** Plain Errors (no class of their own, no code) thrown for a lost or missing connection. */
const CONNECTION_LOST = new Set([
  // ioredis 5: a command on a connection that closed; a command while disconnected when there is
  // no offline queue (the gateway's setting)
  'Connection is closed.',
  "Stream isn't writeable and enableOfflineQueue options is false",
  // ioredis 5 Cluster (REDIS_CLUSTER): the same two, and no node of the cluster answers
  "Cluster isn't ready and enableOfflineQueue options is false",
  'Cluster is disconnected.',
  'None of startup nodes is available',
  // pg 8: the server or the network ended the connection; pg-pool: no connection within
  // connectionTimeoutMillis
  'Connection terminated',
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
]);

/**
 * ioredis 5 Cluster: a command still redirected or refused (MOVED, TRYAGAIN, CLUSTERDOWN, its
 * master's connection closed) after `maxRedirections` tries: a failover or a resharding is under
 * way. The text goes on with the last error.
 */
const CLUSTER_REDIRECTIONS = 'Too many Cluster redirections. Last error: ';

/**
 * Error classes, by name, that are outages whatever their message:
 * - ioredis's MaxRetriesPerRequestError (Redis unreachable while the command waited), its
 *   ClusterAllFailedError (no node of a cluster answered for the slot map), and
 *   redis-errors' AbortError ("Command aborted due to connection close"); a DOM AbortError (a
 *   request's own signal, the client went away) never reaches a response;
 * - TimeoutError: AbortSignal.timeout ran out (the SMS webhook did not answer);
 * - ReplicationShortfallError (engine/durability.ts): a change was applied, but not enough Redis
 *   replicas confirmed it in time to acknowledge it.
 */
const OUTAGE_CLASSES = new Set(['MaxRetriesPerRequestError', 'AbortError', 'TimeoutError', 'ClusterAllFailedError', 'ReplicationShortfallError']);

/** Whether `error` means a backing service is unreachable or not serving now (→ 503), not a bug (→ 500). */
export function isBackendUnavailable(error: unknown): boolean {
  // follow `cause` (fetch's "fetch failed" carries the socket error) and AggregateError's parts
  // (a connect that tried IPv6 and IPv4), a few levels deep
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length && seen.size < 10) {
    const current = pending.shift();
    if (!(current instanceof Error) || seen.has(current)) continue;
    seen.add(current);
    if (isOutage(current)) return true;
    pending.push(current.cause);
    if (current instanceof AggregateError) pending.push(...(current.errors as unknown[]));
  }
  return false;
}

function isOutage(error: Error): boolean {
  if (OUTAGE_CLASSES.has(error.name)) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    // pg's DatabaseError carries the SQLSTATE (five characters) as `code`
    if (code.length === 5 && isPostgresUnavailable(code)) return true;
  }
  // ioredis's ReplyError: the reply's first word is Redis's error code
  if (error.name === 'ReplyError') return REDIS_NOT_NOW.has(error.message.split(' ', 1)[0]!);
  return CONNECTION_LOST.has(error.message) || error.message.startsWith(CLUSTER_REDIRECTIONS);
}
