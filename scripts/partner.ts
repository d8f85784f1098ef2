/**
 * `npm run partner -- COMMAND …`: an admin's partner registry (engine/partners.ts) from a shell, on
 * the deployment's Redis (REDIS_URL / REDIS_CLUSTER, TEEKA_REDIS_PREFIX), each change recorded in its
 * PostgreSQL too (DATABASE_URL, TEEKA_PG_SCHEMA), so a rebuild keeps it. The admin endpoints under
 * /teeka/admin/partners do the same over HTTP.
 *
 *   register ID --name NAME --contact CONTACT --scopes availability,booking --per-minute N --per-day N
 *                              register a partner, or change one (every field given again)
 *   suspend ID | resume ID     refuse every key of the partner, or take it back
 *   issue-key ID               a new API key: printed once, only its sha256 is kept
 *   revoke-key ID KEY_ID       refused by every gateway thread within the partner stream's delay
 *   show ID | list             partners, their keys and their calls in the open windows (JSON)
 *
 * Exit codes: 0 done, 1 refused (no such partner or key), 2 bad usage or settings, 3 failure.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { runAsCommand } from '../engine/command.js';
import { loadConfig, settingsOrExit } from '../engine/config.js';
import { Partners, PartnerInputError, type PartnerScope } from '../engine/partners.js';
import { connectRedis, whenReady } from '../engine/redis.js';
import { LuaScripts } from '../engine/scripts.js';
import { apiErrorFor, Status } from '../engine/status.js';
import { describePartner } from '../gateway/routes/partners.js';
import { openPool } from '../worker/database.js';
import { migrate } from '../worker/migrate.js';
import { PostgresPartnerLedger } from '../worker/partners.js';
import { databaseSchema } from '../worker/settings.js';

const USAGE = `usage: npm run partner -- register ID --name NAME --contact CONTACT --scopes availability,booking --per-minute N --per-day N
       npm run partner -- suspend ID | resume ID | issue-key ID | revoke-key ID KEY_ID | show ID | list`;

class UsageError extends Error {}

function wholeNumber(text: string | undefined, option: string): number {
  if (text === undefined || !/^\d{1,12}$/.test(text)) throw new UsageError(`--${option}: expected a whole number of calls`);
  return Number(text);
}

const refused = (status: Status) => {
  console.error(`partner: ${apiErrorFor(status).error}`);
  return 1;
};

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      contact: { type: 'string' },
      scopes: { type: 'string' },
      'per-minute': { type: 'string' },
      'per-day': { type: 'string' },
    },
  });
  const [command, partnerId, keyId] = positionals;
  if (!command || (command !== 'list' && !partnerId)) {
    console.error(USAGE);
    return 2;
  }
  const config = settingsOrExit('partner', () => loadConfig());
  const schema = databaseSchema();
  // every change is recorded in PostgreSQL too (engine/partners.ts): its tables first
  await migrate(config.databaseUrl, schema);
  const pool = openPool({ databaseUrl: config.databaseUrl, schema, max: 1, onIdleError: () => {} });
  const redis = connectRedis({ address: config.redis, keyPrefix: config.redisKeyPrefix, role: 'tool' });
  const partners = new Partners(redis, new LuaScripts(redis), config.clock, new PostgresPartnerLedger(pool));
  // what the registry records as who did it: the shell's user
  const by = `cli:${userInfo().username}`;
  try {
    await whenReady(redis, 10_000);
    switch (command) {
      case 'register': {
        const scopes = (values.scopes ?? '').split(',').filter(Boolean) as PartnerScope[];
        const done = await partners.register(
          {
            partnerId: partnerId!,
            name: values.name ?? '',
            contact: values.contact ?? '',
            scopes,
            limits: { perMinute: wholeNumber(values['per-minute'], 'per-minute'), perDay: wholeNumber(values['per-day'], 'per-day') },
          },
          by,
        );
        if (!done.ok) return refused(done.status);
        console.log(`${done.created ? 'registered' : 'changed'} ${partnerId} (version ${done.version})`);
        return 0;
      }
      case 'suspend':
      case 'resume': {
        const partner = await partners.get(partnerId!);
        if (!partner) return refused(Status.PARTNER_NOT_FOUND);
        const done = await partners.register({ ...partner, status: command === 'suspend' ? 'suspended' : 'active' }, by);
        if (!done.ok) return refused(done.status);
        console.log(`${partnerId} ${command === 'suspend' ? 'suspended' : 'active'} (version ${done.version})`);
        return 0;
      }
      case 'issue-key': {
        const issued = await partners.issueKey(partnerId!, by);
        if (!issued.ok) return refused(issued.status);
        console.error(`key ${issued.keyId} for ${partnerId}; it is shown this once, keep it now:`);
        console.log(issued.apiKey);
        return 0;
      }
      case 'revoke-key': {
        if (!keyId) throw new UsageError('revoke-key needs the partner id and the key id');
        const revoked = await partners.revokeKey(partnerId!, keyId, by);
        if (!revoked.ok) return refused(revoked.status);
        console.log(`key ${keyId} of ${partnerId} ${revoked.revokedNow ? 'revoked' : 'was revoked already'}`);
        return 0;
      }
      case 'show': {
        const partner = await partners.get(partnerId!);
        if (!partner) return refused(Status.PARTNER_NOT_FOUND);
        console.log(JSON.stringify(await describePartner(partners, partner), null, 2));
        return 0;
      }
      case 'list':
        console.log(JSON.stringify(await Promise.all((await partners.list()).map((p) => describePartner(partners, p))), null, 2));
        return 0;
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof PartnerInputError) {
      console.error(`partner: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  } finally {
    redis.disconnect();
    await pool.end();
  }
}

runAsCommand(import.meta.url, 'partner', main);
