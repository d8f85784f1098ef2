/**
 * Which deployment a Redis belongs to, and whether teeka may serve on it in front of this PostgreSQL.
 *
 * PostgreSQL is the system of record; Redis can come back empty under it (a lost volume, a new node,
 * a FLUSHALL, a restart without persistence). Serving on such a Redis publishes the sessions again
 * with no seats taken (oversell) and hands out beneficiary reference ids PostgreSQL already holds,
 * whose rows then collide: the worker retries them forever and no booking acknowledged from then on
 * reaches PostgreSQL. So the two carry one deployment id:
 *
 * - PostgreSQL: the `deployment` table (one row, made by a migration);
 * - Redis: `keys.deployment()`, in the booking partition so that it is lost with the bookings;
 *   written when a deployment first uses a Redis while PostgreSQL holds no bookings (claimed), and
 *   at the end of every rebuild (`rebuilding:<id>` while the rebuild runs).
 *
 * Beside the marker, Redis records how many virtual partitions (engine/partitions.ts) it was laid
 * out for: an account's keys are named by its partition, so a process configured for another
 * TEEKA_PARTITIONS would read and write every account's records where nobody else does. A rebuild
 * lays Redis out for the configured count (the daily quotas are restored by account, not by key).
 *
 * Redis records its record layout too (TEEKA_LAYOUT, engine/keys.ts `Layout`): a process of the
 * other layout would book where nobody else reads. In the partitioned layout, beneficiary reference
 * ids come from a counter per partition (engine/partitioned-beneficiaries.ts), so "behind" compares
 * each partition's counter with the highest id PostgreSQL holds of that partition.
 *
 * Every start (setup, gateway, worker) reads PostgreSQL's row (one query) and then the marker
 * (one MGET, with the beneficiary sequence and the partition count) and gets a RedisStanding; while the gateway and the
 * worker run they read the marker once a second (watchDeploymentMarker) and stop when it is gone.
 */
import { describeRedis, type RedisAddress, type RedisClient } from '../engine/redis.js';
import type pg from 'pg';
import { FIRST_BENEFICIARY_REFERENCE, referenceOrigin } from '../engine/ids.js';
import { keys, type Layout } from '../engine/keys.js';
import { MAX_PARTITION_COUNT, type Partitions } from '../engine/partitions.js';

const REBUILDING = 'rebuilding:';

export interface DeploymentRecord {
  deploymentId: string;
  /** the highest beneficiary reference id PostgreSQL holds (deleted ones too), or null when none */
  lastBeneficiaryId: string | null;
  /** PostgreSQL holds sessions, accounts, beneficiaries or appointments */
  holdsBookings: boolean;
}

/** PostgreSQL's deployment row and what it holds; null when the schema was never migrated. */
export async function readDeploymentRecord(pool: pg.Pool): Promise<DeploymentRecord | null> {
  try {
    const { rows } = await pool.query<{ deployment_id: string; last_beneficiary_id: string | null; holds_bookings: boolean }>(
      `SELECT deployment_id::text,
              (SELECT max(beneficiary_id) FROM beneficiaries)::text AS last_beneficiary_id,
              EXISTS (SELECT 1 FROM sessions) OR EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM beneficiaries)
                OR EXISTS (SELECT 1 FROM appointments) OR EXISTS (SELECT 1 FROM operators) AS holds_bookings
       FROM deployment`,
    );
    const row = rows[0];
    if (!row) throw new Error('the deployment table of PostgreSQL is empty: it must hold one row (see migrations/)');
    return { deploymentId: row.deployment_id, lastBeneficiaryId: row.last_beneficiary_id, holdsBookings: row.holds_bookings };
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return null; // undefined_table: not migrated yet
    throw err;
  }
}

export type RedisStanding =
  /** Redis carries this deployment's marker and has handed out every reference id PostgreSQL holds */
  | { kind: 'agrees'; deploymentId: string }
  /** Redis carried no marker and PostgreSQL holds no bookings: nothing to disagree with; marked now */
  | { kind: 'claimed'; deploymentId: string }
  /** the schema was never migrated (setup or the worker migrates it): nothing to compare Redis with */
  | { kind: 'unrecorded' }
  /** PostgreSQL did not answer: only the marker (if any) says which deployment Redis belongs to */
  | { kind: 'unverified'; redisDeploymentId: string | null; rebuilding: boolean; reason: string }
  /** no marker and no bookings in Redis, bookings in PostgreSQL: Redis lost its data */
  | { kind: 'emptied'; deploymentId: string }
  /** a rebuild started and has not finished (or was interrupted) */
  | { kind: 'rebuilding'; deploymentId: string }
  /** bookings but no marker in Redis, bookings in PostgreSQL: nothing shows they belong together */
  | { kind: 'unclaimed'; deploymentId: string }
  /** this deployment's marker, but fewer reference ids handed out than PostgreSQL holds: an older copy */
  | { kind: 'behind'; deploymentId: string; redisSequence: string | null; lastBeneficiaryId: string }
  /** this deployment's marker, laid out for another number of partitions than this process's */
  | { kind: 'repartitioned'; deploymentId: string; redisPartitions: number; partitions: number }
  /** this deployment's marker, laid out for another record layout than this process's */
  | { kind: 'relaid'; deploymentId: string; redisLayout: Layout; layout: Layout }
  /** another deployment's marker */
  | { kind: 'foreign'; deploymentId: string; redisDeploymentId: string; recordHoldsBookings: boolean };

/** The marker's value: a deployment id, or `rebuilding:<id>`. */
function parseMarker(value: string | null): { deploymentId: string; rebuilding: boolean } | null {
  if (value === null) return null;
  return value.startsWith(REBUILDING) ? { deploymentId: value.slice(REBUILDING.length), rebuilding: true } : { deploymentId: value, rebuilding: false };
}

/**
 * Compare Redis with PostgreSQL's deployment record, claiming an unmarked Redis when PostgreSQL holds
 * no bookings. PostgreSQL is read first: every reference id it holds was handed out by Redis before,
 * so a sequence read afterwards can only be ahead of it, never falsely behind.
 */
export async function examineRedis(redis: RedisClient, pool: pg.Pool, partitions: Partitions, layout: Layout = 'single'): Promise<RedisStanding> {
  let record: DeploymentRecord | null;
  try {
    record = await readDeploymentRecord(pool);
  } catch (err) {
    const marker = parseMarker(await redis.get(keys.deployment()));
    return { kind: 'unverified', redisDeploymentId: marker?.deploymentId ?? null, rebuilding: marker?.rebuilding ?? false, reason: (err as Error).message };
  }
  if (!record) return { kind: 'unrecorded' };
  const { deploymentId } = record;
  const [markerValue, sequence, partitionCount, layoutValue] = await redis.mget(keys.deployment(), keys.beneficiarySequence(), keys.partitionCount(), keys.layout());
  const marker = parseMarker(markerValue ?? null);

  if (marker && marker.deploymentId !== deploymentId) {
    return { kind: 'foreign', deploymentId, redisDeploymentId: marker.deploymentId, recordHoldsBookings: record.holdsBookings };
  }
  if (marker?.rebuilding) return { kind: 'rebuilding', deploymentId };
  if (marker) {
    if (partitionCount == null) {
      // laid out before partition counts were recorded (or a claim stopped before recording it)
      if (!(await redis.set(keys.partitionCount(), partitions.count, 'NX'))) return examineRedis(redis, pool, partitions, layout);
    } else if (Number(partitionCount) !== partitions.count) {
      return { kind: 'repartitioned', deploymentId, redisPartitions: Number(partitionCount), partitions: partitions.count };
    }
    if (layoutValue == null) {
      // laid out before layouts were recorded (all single), or a claim stopped before recording it
      const redisLayout = sequence != null || (await redis.exists(keys.sessionsByDate())) === 1 ? 'single' : layout;
      if (redisLayout !== layout) return { kind: 'relaid', deploymentId, redisLayout, layout };
      if (!(await redis.set(keys.layout(), layout, 'NX'))) return examineRedis(redis, pool, partitions, layout);
    } else if (layoutValue !== layout) {
      return { kind: 'relaid', deploymentId, redisLayout: layoutValue as Layout, layout };
    }
    const behind = layout === 'partitioned' ? await partitionBehind(redis, pool, partitions) : singleBehind(sequence ?? null, record.lastBeneficiaryId);
    if (behind) return { kind: 'behind', deploymentId, ...behind };
    return { kind: 'agrees', deploymentId };
  }
  if (!record.holdsBookings) {
    if (await redis.set(keys.deployment(), deploymentId, 'NX')) {
      await redis.mset(keys.partitionCount(), partitions.count, keys.layout(), layout);
      return { kind: 'claimed', deploymentId };
    }
    return examineRedis(redis, pool, partitions, layout); // another process marked it meanwhile: compare with what it wrote
  }
  // every booking key hangs off the sessions index (sessions, appointments) or the sequence (accounts,
  // beneficiaries, photo IDs), in `{bk}` or in a partition: without all of them, Redis holds no bookings
  const holdsBookings = sequence != null || (await redis.exists(keys.sessionsByDate())) === 1 || (await partitionsHoldBookings(redis, partitions));
  return holdsBookings ? { kind: 'unclaimed', deploymentId } : { kind: 'emptied', deploymentId };
}

/** The single-slot layout's sequence against PostgreSQL's highest reference id: what "behind" reports, or null. */
function singleBehind(sequence: string | null, last: string | null): { redisSequence: string | null; lastBeneficiaryId: string } | null {
  return last !== null && (sequence == null || BigInt(sequence) < BigInt(last)) ? { redisSequence: sequence, lastBeneficiaryId: last } : null;
}

/**
 * The partitioned layout's counters against PostgreSQL: partition p hands out first + n × 1024 + p
 * for n = 1, 2, … (lua/registerBeneficiary-3.lua), so its counter must be at least the n of the
 * highest id PostgreSQL holds of p. The first partition found behind, or null.
 */
async function partitionBehind(redis: RedisClient, pool: pg.Pool, partitions: Partitions): Promise<{ redisSequence: string | null; lastBeneficiaryId: string } | null> {
  const { rows } = await pool.query<{ partition: number; last: string }>(
    `SELECT ((beneficiary_id - $1) % $2)::int AS partition, max(beneficiary_id)::text AS last
     FROM beneficiaries WHERE beneficiary_id > $1 GROUP BY 1 ORDER BY 1`,
    [FIRST_BENEFICIARY_REFERENCE, MAX_PARTITION_COUNT],
  );
  for (const { partition, last } of rows) {
    if (partition >= partitions.count) continue; // not a partitioned id of this count (repartitioned is checked before)
    const needed = referenceOrigin(BigInt(last), MAX_PARTITION_COUNT)!.n;
    // one GET per partition: on a cluster the counters live in different slots
    const counter = await redis.get(keys.partitionBeneficiarySequence(partitions, partition));
    if (counter == null || BigInt(counter) < needed) return { redisSequence: `${counter ?? 'none'} in partition ${partition}`, lastBeneficiaryId: last };
  }
  return null;
}

/** Whether any partition holds sessions or has registered beneficiaries (one EXISTS each: different slots on a cluster). */
async function partitionsHoldBookings(redis: RedisClient, partitions: Partitions): Promise<boolean> {
  const found = await Promise.all(
    partitions.all().flatMap((partition) => [
      redis.exists(keys.partitionSessionsByDate(partitions, partition)),
      redis.exists(keys.partitionBeneficiarySequence(partitions, partition)),
    ]),
  );
  return found.some((n) => n === 1);
}

/**
 * Whether a gateway or worker may serve on Redis, and which marker it then watches (none when
 * PostgreSQL has no record yet); null when it must refuse.
 */
export function mayServe(standing: RedisStanding): { watch: string | null } | null {
  switch (standing.kind) {
    case 'agrees':
    case 'claimed':
      return { watch: standing.deploymentId };
    case 'unrecorded':
      return { watch: null };
    case 'unverified':
      // the marker shows that no one emptied this Redis since a deployment laid it out; PostgreSQL
      // being down is ridden out (bookings wait in the outbox)
      return standing.redisDeploymentId && !standing.rebuilding ? { watch: standing.redisDeploymentId } : null;
    default:
      return null;
  }
}

/** Where Redis and PostgreSQL are, for messages. */
export interface DeploymentPlace {
  redisAddress: RedisAddress;
  redisKeyPrefix: string;
  schema: string;
}

const redisAt = (place: DeploymentPlace) => `${describeRedis(place.redisAddress)} (key prefix "${place.redisKeyPrefix}")`;
const postgresAt = (place: DeploymentPlace) => `PostgreSQL (schema ${place.schema})`;

/** What the standing means and exactly what the operator should do; empty for a standing that serves. */
export function explainStanding(standing: RedisStanding, place: DeploymentPlace): string {
  const redis = redisAt(place);
  const postgres = postgresAt(place);
  switch (standing.kind) {
    case 'agrees':
    case 'claimed':
    case 'unrecorded':
      return '';
    case 'unverified':
      if (standing.rebuilding) return `${redis} is being rebuilt (or a rebuild was interrupted), and ${postgres} did not answer (${standing.reason}). Start again once the rebuild has finished.`;
      if (standing.redisDeploymentId) return '';
      return (
        `${postgres} did not answer (${standing.reason}), and ${redis} carries no deployment marker: ` +
        'teeka cannot tell whether Redis lost its data. Start again once PostgreSQL answers.'
      );
    case 'emptied':
      return (
        `${redis} holds no bookings, but ${postgres} holds those of deployment ${standing.deploymentId}: Redis lost its data ` +
        '(a lost volume, a new node, a flush, a restart without persistence). Serving on it would sell seats already taken ' +
        'and hand out reference ids PostgreSQL already holds. Run `npm run rebuild` (or `npm start`, whose setup rebuilds ' +
        'by itself) to lay Redis out again from PostgreSQL, then start again.'
      );
    case 'rebuilding':
      return (
        `${redis} is being rebuilt from ${postgres}, or a rebuild was interrupted. Wait for it to finish; ` +
        'if none is running any more, run `npm run rebuild -- --force`, then start again.'
      );
    case 'unclaimed':
      return (
        `${redis} holds bookings but no deployment marker, and ${postgres} holds those of deployment ${standing.deploymentId}: ` +
        'nothing shows that they belong together (a Redis written by a teeka from before deployment markers, or by another ' +
        'deployment under the same prefix). If it is this deployment\'s Redis, run `npm run rebuild -- --force`: it writes ' +
        'what its outbox holds to PostgreSQL, then lays Redis out again from PostgreSQL. Otherwise point REDIS_URL and ' +
        'TEEKA_REDIS_PREFIX at this deployment\'s Redis.'
      );
    case 'behind':
      return (
        `${redis} carries deployment ${standing.deploymentId}'s marker, but its beneficiary sequence (${standing.redisSequence ?? 'none'}) ` +
        `is behind the highest reference id in ${postgres} (${standing.lastBeneficiaryId}): it is an older copy (an RDB ` +
        'snapshot, a replica that lagged). Run `npm run rebuild -- --force`: it writes what its outbox holds to PostgreSQL, ' +
        'then lays Redis out again from PostgreSQL.'
      );
    case 'repartitioned':
      return (
        `${redis} was laid out for ${standing.redisPartitions} partitions, but this process is configured for ` +
        `${standing.partitions} (TEEKA_PARTITIONS): every account's records would be looked for in the wrong partition. ` +
        `Set TEEKA_PARTITIONS=${standing.redisPartitions} on every process; to change the count, stop every gateway and ` +
        'worker, run `npm run rebuild -- --force` with the new count, then start them all with it.'
      );
    case 'relaid':
      return (
        `${redis} was laid out for the ${standing.redisLayout} record layout, but this process is configured for ` +
        `${standing.layout} (TEEKA_LAYOUT): it would book where nobody else reads. Set TEEKA_LAYOUT=${standing.redisLayout} ` +
        'on every process. Changing the layout of a deployment means laying Redis out again from PostgreSQL, which ' +
        '`npm run rebuild` does for the single layout only (see worker/README.md).'
      );
    case 'foreign':
      return (
        `${redis} belongs to deployment ${standing.redisDeploymentId}, but ${postgres} is deployment ${standing.deploymentId}. ` +
        'Point REDIS_URL and TEEKA_REDIS_PREFIX (or DATABASE_URL and TEEKA_PG_SCHEMA) at one deployment\'s pair. ' +
        (standing.recordHoldsBookings
          ? 'To discard that Redis\'s data, delete its keys under the prefix, then run `npm run rebuild`.'
          : 'PostgreSQL holds no bookings: if it lost its data, restore it from a backup before starting (that Redis may hold the only copy).')
      );
  }
}

/** A start refused because Redis disagrees with PostgreSQL; the message says what to do. */
export class RedisDisagrees extends Error {
  constructor(
    readonly standing: RedisStanding,
    message: string,
  ) {
    super(message);
    this.name = 'RedisDisagrees';
  }
}

/** How often a running gateway or worker reads the marker. */
export const MARKER_WATCH_MS = 1000;

/** The exit status of a process that refused to start, or stopped, because Redis disagrees. */
export const DISAGREEMENT_EXIT_CODE = 2;

/**
 * The check a gateway or worker makes before serving: the marker to watch while it serves (null:
 * PostgreSQL has no record yet), or RedisDisagrees saying what to do.
 */
export async function admitRedis(
  redis: RedisClient,
  pool: pg.Pool,
  place: DeploymentPlace,
  partitions: Partitions,
  log: (line: string) => void,
  layout: Layout = 'single',
): Promise<string | null> {
  const standing = await examineRedis(redis, pool, partitions, layout);
  const allowed = mayServe(standing);
  if (!allowed) throw new RedisDisagrees(standing, explainStanding(standing, place));
  if (standing.kind === 'claimed') log(`${redisAt(place)} held no deployment marker and ${postgresAt(place)} no bookings: marked for deployment ${standing.deploymentId}`);
  if (standing.kind === 'unrecorded') log(`${postgresAt(place)} is not migrated yet: nothing to compare Redis with (setup or the worker migrates it)`);
  if (standing.kind === 'unverified') log(`${postgresAt(place)} did not answer (${standing.reason}); ${redisAt(place)} carries deployment ${allowed.watch}'s marker: serving`);
  return allowed.watch;
}

/** Mark Redis as being rebuilt for `deploymentId`; with `onlyIfUnmarked`, only when no marker is there (false if one was). */
export async function markRebuilding(redis: RedisClient, deploymentId: string, { onlyIfUnmarked = false } = {}): Promise<boolean> {
  const value = `${REBUILDING}${deploymentId}`;
  return (onlyIfUnmarked ? await redis.set(keys.deployment(), value, 'NX') : await redis.set(keys.deployment(), value)) === 'OK';
}

/** Mark Redis as laid out for `deploymentId`, its partition count and its record layout (the last step of a rebuild). */
export async function markDeployment(redis: RedisClient, deploymentId: string, partitions: Partitions, layout: Layout): Promise<void> {
  await redis.mset(keys.partitionCount(), partitions.count, keys.layout(), layout, keys.deployment(), deploymentId);
}

/** The deployment id a Redis marker names, if it is another deployment's (for the rebuild's refusal). */
export async function foreignMarker(redis: RedisClient, deploymentId: string): Promise<string | null> {
  const marker = parseMarker(await redis.get(keys.deployment()));
  return marker && marker.deploymentId !== deploymentId ? marker.deploymentId : null;
}

/**
 * While a process serves, Redis may be emptied or replaced under it (it restarts without its data,
 * and the connection simply reconnects): read the marker every `everyMs` and call `onLost` once
 * when it is no longer `deploymentId`. A Redis that does not answer is not a loss. Returns a stop.
 */
export function watchDeploymentMarker(
  redis: RedisClient,
  deploymentId: string,
  place: DeploymentPlace,
  onLost: (message: string) => void,
  everyMs = MARKER_WATCH_MS,
): () => void {
  let lost = false;
  let asking = false; // a connection with an offline queue holds a GET until Redis is back: ask one at a time
  const timer = setInterval(() => {
    if (asking || lost) return;
    asking = true;
    redis
      .get(keys.deployment())
      .then(
        (value) => {
          if (lost || value === deploymentId) return;
          lost = true;
          clearInterval(timer);
          onLost(
            `${redisAt(place)} no longer carries deployment ${deploymentId}'s marker (it holds ${value === null ? 'none' : `"${value}"`}): ` +
              'it was emptied, replaced or is being rebuilt while teeka ran. Stopping rather than serve on it. ' +
              'Run `npm run rebuild` (or `npm start`, whose setup rebuilds by itself) if no rebuild is running, then start again.',
          );
        },
        () => {}, // unreachable or loading: the connection retries; only an answer can show a loss
      )
      .finally(() => (asking = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
