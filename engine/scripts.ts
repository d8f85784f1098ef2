/**
 * The Lua script loader: the one place that reads `lua/`, inlines includes, and registers scripts
 * with ioredis `defineCommand`.
 *
 * - `lua/verbNoun-N.lua` is one atomic operation; N, read from the file name, is its KEYS count.
 * - `--- @include "includes/name"` inlines `lua/includes/name.lua` once per script.
 * - A generated prelude gives every script the status codes of engine/status.ts.
 * - Each script is registered as `verbNoun:<hash of its final text>`, so two versions deployed side
 *   by side during a rolling deploy never run each other's Lua.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander } from 'ioredis';
import { isCluster, type RedisClient } from './redis.js';
import { luaStatusPrelude } from './status.js';

export type ScriptName =
  | 'publishSession'
  | 'passOtpGate'
  | 'issueOtp'
  | 'refundOtpGate'
  | 'verifyOtp'
  | 'consumeSearchQuota'
  | 'consumeSearchQuotas'
  | 'consumePublicQuota'
  | 'addBeneficiary'
  | 'deleteBeneficiary'
  | 'bookAppointment'
  | 'bookAppointments'
  | 'cancelAppointment'
  | 'rescheduleAppointment'
  | 'markVaccinated'
  | 'issueCaptcha'
  | 'verifyCaptcha'
  | 'setAsideOutboxEntries'
  | 'issueOperator'
  | 'revokeOperator'
  | 'openOperatorSession'
  | 'revokeCertificate'
  // the partitioned booking (engine/partitioned-booking.md)
  | 'holdAppointment'
  | 'takeSeats'
  | 'confirmAppointment'
  | 'decide'
  | 'releaseHold'
  | 'beginCancel'
  | 'releaseSeats'
  | 'clearIntent'
  | 'beginMove'
  | 'recordVaccination'
  // registering beneficiaries in their account's partition (engine/partitioned-beneficiaries.ts)
  | 'reservePhotoId'
  | 'registerBeneficiary'
  | 'settlePhotoId'
  | 'abortRegistration'
  | 'removeBeneficiary'
  // partners and the access log
  | 'registerPartner'
  | 'issuePartnerKey'
  | 'revokePartnerKey'
  | 'consumePartnerQuota'
  | 'appendAccessEntry'
  | 'appendAccessEntries'
  // fair admission (engine/fair-admission.ts)
  | 'joinQueue'
  | 'queueStatus'
  | 'admitQueue'
  | 'checkAdmission'
  | 'useAdmission';

export interface ScriptSource {
  name: ScriptName;
  /** null for a script that takes any number of keys (`name-n.lua`: a coalesced batch) */
  numberOfKeys: number | null;
  /** the text sent to Redis: prelude, script, includes inlined */
  lua: string;
  /** first 10 hex digits of the SHA-1 of `lua` */
  version: string;
  /** the name it is registered under: `name:version` */
  commandName: string;
  /** the SHA-1 Redis knows the script by (for EVALSHA from other tools, e.g. redis-benchmark) */
  sha: string;
}

const FILE_NAME = /^([a-z][A-Za-z]*)-(\d+|n)\.lua$/;
const INCLUDE = /^--- @include "([\w/]+)"\s*$/gm;

/** The `lua/` folder, found from this module whether it runs from source or from dist/. */
export function luaDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'lua');
    if (existsSync(join(candidate, 'includes'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('cannot find the lua/ folder above ' + fileURLToPath(import.meta.url));
}

function inlineIncludes(source: string, dir: string, file: string, included: Set<string>): string {
  return source.replace(INCLUDE, (_line, name: string) => {
    if (included.has(name)) return `-- (${name} already included)`;
    included.add(name);
    const path = join(dir, `${name}.lua`);
    if (!existsSync(path)) throw new Error(`${file}: include "${name}" not found at ${path}`);
    return inlineIncludes(readFileSync(path, 'utf8'), dir, `${name}.lua`, included);
  });
}

let cached: ScriptSource[] | undefined;

/** Read and assemble every script in `lua/`. */
export function readScripts(dir = luaDirectory()): ScriptSource[] {
  if (cached && dir === luaDirectory()) return cached;
  const scripts = readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .sort()
    .map((file) => {
      const match = FILE_NAME.exec(file);
      if (!match) throw new Error(`lua/${file}: script names must look like verbNoun-N.lua (N = number of keys, or n for any number)`);
      const body = inlineIncludes(readFileSync(join(dir, file), 'utf8'), dir, file, new Set());
      const lua = luaStatusPrelude(body) + body;
      const version = createHash('sha1').update(lua).digest('hex').slice(0, 10);
      return {
        name: match[1] as ScriptName,
        numberOfKeys: match[2] === 'n' ? null : Number(match[2]),
        lua,
        version,
        commandName: `${match[1]}:${version}`,
        sha: createHash('sha1').update(lua).digest('hex'),
      };
    });
  if (dir === luaDirectory()) cached = scripts;
  return scripts;
}

type Arg = string | number;
type Invoker = (...args: Arg[]) => Promise<unknown>;

/** The scripts registered on one ioredis connection. */
export class LuaScripts {
  private readonly byName = new Map<ScriptName, ScriptSource>();

  constructor(
    private readonly redis: RedisClient,
    sources: ScriptSource[] = readScripts(),
  ) {
    for (const source of sources) {
      this.byName.set(source.name, source);
      if (!(source.commandName in redis)) {
        // without numberOfKeys ioredis takes the count as the first argument (run and queue pass it)
        redis.defineCommand(source.commandName, source.numberOfKeys === null ? { lua: source.lua } : { numberOfKeys: source.numberOfKeys, lua: source.lua });
      }
    }
  }

  source(name: ScriptName): ScriptSource {
    const source = this.byName.get(name);
    if (!source) throw new Error(`no Lua script named ${name} in lua/`);
    return source;
  }

  /** Run a script: EVALSHA, falling back to EVAL once when Redis does not have it yet. */
  run(name: ScriptName, keys: string[], args: Arg[]): Promise<unknown[]> {
    const source = this.checked(name, keys);
    if (source.numberOfKeys === null && isCluster(this.redis)) return this.runAlone(source, keys, args);
    const invoke = (this.redis as unknown as Record<string, Invoker>)[source.commandName]!;
    return invoke.call(this.redis, ...keyArguments(source, keys), ...args) as Promise<unknown[]>;
  }

  /**
   * On a cluster, a script of any number of keys, in a pipeline of its own. Not through ioredis's
   * auto-pipelining: on a cluster that picks a command's node by its first argument, which for these
   * is the key count, so a batch would join another node's pipeline ("All keys in the pipeline should
   * belong to the same slots allocation group"); an explicit pipeline finds the slot from the keys
   * themselves. On one server there is one node and the auto-pipeline is right: a pipeline of its own
   * cost each coalesced batch an ioredis Pipeline (its constructor copies every defined script onto
   * the new object), the search path's largest JavaScript cost in the gateway's profile.
   */
  private async runAlone(source: ScriptSource, keys: string[], args: Arg[]): Promise<unknown[]> {
    const pipeline = this.redis.pipeline();
    (pipeline as unknown as Record<string, (...a: Arg[]) => unknown>)[source.commandName]!(keys.length, ...keys, ...args);
    const [error, reply] = (await pipeline.exec())?.[0] ?? [new Error(`${source.name}: the pipeline gave no reply`), null];
    if (error) throw error;
    return reply as unknown[];
  }

  /** Queue a script on a pipeline or transaction. */
  queue(pipeline: ChainableCommander, name: ScriptName, keys: string[], args: Arg[]): void {
    const source = this.checked(name, keys);
    (pipeline as unknown as Record<string, (...a: Arg[]) => unknown>)[source.commandName]!(...keyArguments(source, keys), ...args);
  }

  private checked(name: ScriptName, keys: string[]): ScriptSource {
    const source = this.source(name);
    if (source.numberOfKeys !== null && keys.length !== source.numberOfKeys) {
      throw new Error(`${name} takes ${source.numberOfKeys} keys, got ${keys.length}`);
    }
    return source;
  }
}

/** The keys as ioredis takes them: preceded by their count for a script of any number of keys. */
function keyArguments(source: ScriptSource, keys: string[]): Arg[] {
  return source.numberOfKeys === null ? [keys.length, ...keys] : keys;
}
