/**
 * The outbox stream as the worker sees it: the shape of each change the booking scripts append
 * (lua/includes/appendOutbox.lua), checked when read, and the stream commands the worker and the
 * tools share (consumer group, reading entries by id, acknowledging).
 *
 * An entry is deleted from the stream in the same MULTI that acknowledges it, after its batch is
 * committed in PostgreSQL, so the stream only ever holds changes PostgreSQL may not have yet.
 */
import type { RedisClient } from '../engine/redis.js';
import { z } from 'zod';
import { keys } from '../engine/keys.js';

/** The consumer group every worker reads the outbox through. */
export const OUTBOX_GROUP = 'persist';

const ms = z.number().int().nonnegative();
const epochDay = z.number().int().nonnegative();

const accountChange = z.object({ account_id: z.string().min(1), created_at: ms });

const beneficiaryChange = z.object({
  id: z.string().regex(/^\d{1,18}$/),
  account_id: z.string().min(1),
  name: z.string(),
  birth_year: z.number().int(),
  gender_id: z.number().int(),
  photo_id_type: z.number().int(),
  photo_id_last4: z.string(),
  photo_id_hash: z.string(),
  comorbidity: z.enum(['Y', 'N']),
  consent_version: z.string(),
  registered_at: ms,
  version: z.number().int().positive(),
  vaccine: z.string(),
  dose1: epochDay,
  dose2: epochDay,
  dose3: epochDay,
  deleted_at: ms.optional(),
});

const sessionChange = z.object({
  session_id: z.string().min(1),
  version: z.number().int().positive(),
  at: ms,
  // the exact text the session hash holds; every other column is read from it
  definition_json: z.string().min(2),
});

const appointmentChange = z.object({
  appointment_id: z.string().min(1),
  account_id: z.string().min(1),
  session_id: z.string().min(1),
  slot: z.string().min(1),
  dose: z.number().int().min(1).max(3),
  version: z.number().int().positive(),
  action: z.enum(['booked', 'cancelled', 'rescheduled', 'vaccinated']),
  at: ms,
  created_at: ms,
  beneficiaries: z
    .array(
      z.object({
        id: z.string().regex(/^\d{1,18}$/),
        status: z.enum(['booked', 'cancelled', 'vaccinated']),
        // absent in entries written before security codes existed
        security_code: z.string().regex(/^\d{4}$/).optional(),
      }),
    )
    .min(1),
  expired: z.array(z.object({ appointment_id: z.string().min(1), beneficiary_id: z.string().regex(/^\d{1,18}$/) })).optional(),
});

const operatorChange = z.object({
  operator_id: z.string().min(1),
  role: z.enum(['vaccinator', 'admin']),
  // comma-separated centre ids, '' for an admin (as the operator hash keeps them)
  centers: z.string().regex(/^(\d+(,\d+)*)?$/),
  secret_hash: z.string().min(1),
  status: z.enum(['active', 'revoked']),
  issued_at: ms,
  issued_by: z.string(),
  revoked_at: ms.optional(),
  revoked_by: z.string().optional(),
  version: z.number().int().positive(),
  at: ms,
});

const certificateChange = z.object({
  certificate_id: z.string().min(1),
  beneficiary_id: z.string().regex(/^\d{1,18}$/),
  account_id: z.string().min(1),
  appointment_id: z.string().min(1),
  dose: z.number().int().min(1).max(3),
  vaccine: z.string().min(1),
  date: epochDay,
  center_id: z.number().int().positive(),
  kid: z.string().min(1),
  rid: z.string().regex(/^[A-Za-z0-9_-]{1,24}$/),
  jws: z.string().min(1),
  issued_at: ms,
  issued_by: z.string(),
  status: z.enum(['issued', 'revoked']),
  revoked_at: ms.optional(),
  revoked_by: z.string().optional(),
  revocation_reason: z.string().optional(),
  version: z.number().int().positive(),
});

export type AccountChange = z.infer<typeof accountChange>;
export type BeneficiaryChange = z.infer<typeof beneficiaryChange>;
export type SessionChange = z.infer<typeof sessionChange>;
export type AppointmentChange = z.infer<typeof appointmentChange>;
export type OperatorChange = z.infer<typeof operatorChange>;
export type CertificateChange = z.infer<typeof certificateChange>;

interface EventBase {
  /** the stream entry id, e.g. `1764230400000-0` */
  streamId: string;
  /** the change's own id, `<kind>:<entity id>:<version>`: the same however often the entry is read */
  eventId: string;
  /** the JSON text the script wrote, kept as is for the audit log */
  raw: string;
}

export type OutboxEvent =
  | (EventBase & { kind: 'account'; change: AccountChange })
  | (EventBase & { kind: 'beneficiary'; change: BeneficiaryChange })
  | (EventBase & { kind: 'session'; change: SessionChange })
  | (EventBase & { kind: 'appointment'; change: AppointmentChange })
  | (EventBase & { kind: 'operator'; change: OperatorChange })
  | (EventBase & { kind: 'certificate'; change: CertificateChange });

/** An entry no booking script could have written: retrying cannot help, so it is set aside (dead-letter.ts). */
export class MalformedOutboxEntry extends Error {
  constructor(
    readonly streamId: string,
    reason: string,
  ) {
    super(`outbox entry ${streamId}: ${reason}`);
    this.name = 'MalformedOutboxEntry';
  }
}

const SCHEMAS = {
  account: accountChange,
  beneficiary: beneficiaryChange,
  session: sessionChange,
  appointment: appointmentChange,
  operator: operatorChange,
  certificate: certificateChange,
};

export type StreamEntry = [id: string, fields: string[]];

export function parseOutboxEntry([streamId, fields]: StreamEntry): OutboxEvent {
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
  const { id: eventId, kind, data: raw } = map;
  if (!eventId || !kind || raw === undefined) throw new MalformedOutboxEntry(streamId, 'missing id, kind or data');
  if (!(kind in SCHEMAS)) throw new MalformedOutboxEntry(streamId, `unknown kind "${kind}"`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new MalformedOutboxEntry(streamId, 'data is not JSON');
  }
  const parsed = SCHEMAS[kind as keyof typeof SCHEMAS].safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new MalformedOutboxEntry(streamId, `${kind} ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { streamId, eventId, raw, kind, change: parsed.data } as OutboxEvent;
}

/** The ms part of a stream id: when the entry was appended, by the Redis clock. */
export function streamIdTime(streamId: string): number {
  return Number(streamId.slice(0, streamId.indexOf('-')));
}

/**
 * The outbox key as Redis knows it. ioredis adds its keyPrefix to ordinary key arguments, but not to
 * the key inside subcommands (XGROUP CREATE, XINFO GROUPS), which need the full name.
 */
export function outboxKeyWithPrefix(redis: RedisClient): string {
  return `${redis.options.keyPrefix ?? ''}${keys.outbox()}`;
}

/**
 * Create the consumer group if it is missing (first start, or the stream was wiped by a rebuild).
 * It starts at the beginning: every entry still in the stream is one PostgreSQL may not have.
 */
export async function ensureOutboxGroup(redis: RedisClient): Promise<void> {
  try {
    await redis.xgroup('CREATE', outboxKeyWithPrefix(redis), OUTBOX_GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!/BUSYGROUP/.test((err as Error).message)) throw err;
  }
}

/** The entries with these ids that are still in the stream (the others were written and deleted). */
export async function readOutboxEntries(redis: RedisClient, ids: string[]): Promise<StreamEntry[]> {
  if (!ids.length) return [];
  // a batch as read is one run of consecutive entries: one range read returns exactly it
  const run = (await redis.xrange(keys.outbox(), ids[0]!, ids[ids.length - 1]!, 'COUNT', ids.length)) as StreamEntry[];
  const wanted = new Set(ids);
  if (run.length === ids.length && run.every(([id]) => wanted.has(id))) return run;
  // claimed entries with others between them, or some already written and deleted: one by one
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.xrange(keys.outbox(), id, id);
  const replies = (await pipeline.exec()) ?? [];
  const entries: StreamEntry[] = [];
  for (const [err, reply] of replies) {
    if (err) throw err;
    const found = reply as StreamEntry[];
    if (found.length) entries.push(found[0]!);
  }
  return entries;
}

/** Acknowledge entries written to PostgreSQL and delete them from the stream, atomically. */
export async function acknowledgeOutboxEntries(redis: RedisClient, ids: string[]): Promise<void> {
  if (!ids.length) return;
  const replies = await redis.multi().xack(keys.outbox(), OUTBOX_GROUP, ...ids).xdel(keys.outbox(), ...ids).exec();
  for (const [err] of replies ?? []) if (err) throw err;
}

/** Pending (delivered, unacknowledged) entries and undelivered ones, per the consumer group. */
export interface OutboxBacklog {
  length: number;
  pending: number;
  undelivered: number;
  /** the oldest entry still in the stream, or null when it is empty */
  oldestId: string | null;
}

export async function readOutboxBacklog(redis: RedisClient): Promise<OutboxBacklog> {
  const [length, oldest, groups] = await Promise.all([
    redis.xlen(keys.outbox()),
    redis.xrange(keys.outbox(), '-', '+', 'COUNT', 1),
    (redis.xinfo('GROUPS', outboxKeyWithPrefix(redis)) as Promise<unknown[][]>).catch((err: Error) => {
      if (/no such key/i.test(err.message)) return [];
      throw err;
    }),
  ]);
  let pending = 0;
  let undelivered = length;
  for (const group of groups) {
    const info: Record<string, unknown> = {};
    for (let i = 0; i + 1 < group.length; i += 2) info[String(group[i])] = group[i + 1];
    if (info.name !== OUTBOX_GROUP) continue;
    pending = Number(info.pending);
    // Redis cannot always tell the lag (deleted entries leave gaps it does not count); every entry
    // still in the stream is unacknowledged, so the rest of it is what was never delivered
    undelivered = typeof info.lag === 'number' ? info.lag : Math.max(0, length - pending);
  }
  return { length, pending, undelivered, oldestId: oldest[0]?.[0] ?? null };
}
