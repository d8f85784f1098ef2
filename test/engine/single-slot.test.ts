/**
 * Every script call, and every other command with several keys, touches one Redis Cluster slot:
 * what Redis Cluster requires (it refuses a multi-key command across slots with CROSSSLOT). The
 * engine runs a representative call of every Lua script in lua/ on a client whose commands are
 * recorded as they are sent, with the keys ioredis itself finds in them (as its Cluster client
 * does to route them), and each command's keys are hashed to their slot (cluster-key-slot, the
 * function ioredis routes with).
 */
import { createRequire } from 'node:module';
import type { Command } from 'ioredis';
import { AccessLog } from '../../engine/access-log.js';
import { Certificates } from '../../engine/certificates.js';
import { sha256Hex } from '../../engine/ids.js';
import { keys } from '../../engine/keys.js';
import { Operators } from '../../engine/operators.js';
import { PartitionedBeneficiaries } from '../../engine/partitioned-beneficiaries.js';
import { PartitionedBooking, StoppedAfterStep } from '../../engine/partitioned-booking.js';
import { Partners } from '../../engine/partners.js';
import { LuaScripts, readScripts } from '../../engine/scripts.js';
import { Status } from '../../engine/status.js';
import { accountWithBeneficiaries, demoCenterId, publishSession, securityCodeOf, slotsOf } from '../support/booking.js';
import { PostgresPartnerLedger } from '../../worker/partners.js';
// (with a PostgreSQL schema: the partner registry records its changes there too)
import { describe, expect, test, TEST_REDIS } from '../worker/support.js';
import { newPerson, partitionedAccount, partitionedSessions, vaccinatedInPartition } from '../support/partitioned.js';

const slotOf = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

// On a Redis Cluster the cluster itself refuses a command whose keys span slots (CROSSSLOT), so the
// whole suite running there (npm run test:cluster) is this check; on one Redis, which would accept
// such a command, this test records every command's keys and computes their slots
describe.skipIf(TEST_REDIS.cluster !== undefined)('one slot per command', () => {
  test('every Lua script, called as the engine calls it, and every multi-key command, touches one slot', async ({ engine, redis, clock, pool }) => {
    const scriptBySha = new Map(readScripts().map((s) => [s.sha, s.name]));
    const calls: { command: string; keys: string[] }[] = [];
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = (command: Command, stream?: Parameters<typeof send>[1]) => {
      const name = command.name.toLowerCase();
      const label = name === 'evalsha' ? (scriptBySha.get(String(command.args[0])) ?? 'evalsha ?') : name === 'eval' ? 'eval' : name;
      calls.push({ command: label, keys: command.getKeys().map(String) });
      return send(command, stream);
    };

    // the citizen: OTPs (issued, refused and given back), a login replacing another, searches, a captcha
    const mobile = '9999000123';
    const first = await engine.issueOtp(mobile, '192.0.2.1');
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    const login = await engine.verifyOtp(first.txnId, sha256Hex('123456'));
    const blocked = engine.accountIdOf('9876500001');
    await redis.set(engine.accountKeys(blocked).blocked(), 'search', 'PX', 60_000);
    expect(await engine.issueOtp('9876500001', '192.0.2.1')).toMatchObject({ status: Status.ACCOUNT_BLOCKED });
    const again = await engine.issueOtp(mobile, '192.0.2.1');
    if (!again.ok || !login.ok) throw new Error('login failed');
    const relogin = await engine.verifyOtp(again.txnId, sha256Hex('123456'));
    expect(relogin).toMatchObject({ ok: true, replacedSid: login.sid });
    if (!relogin.ok) return;
    expect((await engine.consumeSearchQuota(relogin.accountId, relogin.sid)).ok).toBe(true);
    // two searches in one event-loop turn: one coalesced call (consumeSearchQuotas)
    const both = await Promise.all([engine.consumeSearchQuota(relogin.accountId, relogin.sid), engine.consumeSearchQuota(relogin.accountId, relogin.sid)]);
    expect(both.map((o) => o.ok)).toEqual([true, true]);
    await engine.consumePublicQuota('192.0.2.1');
    await engine.issueCaptcha(relogin.accountId, 'abcde');
    await engine.verifyCaptcha(relogin.accountId, 'abcde');

    // the booking partition: a session, beneficiaries, a booking, a reschedule, a cancel, a vaccination
    const sessionId = await publishSession(engine);
    const otherSessionId = await publishSession(engine, { date: engine.today() + 2 });
    const { accountId, beneficiaryIds } = await accountWithBeneficiaries(engine, 3);
    const slots = slotsOf(engine, demoCenterId(engine));
    const booked = await engine.book({ accountId, sessionId, slot: slots[0]!, dose: 1, beneficiaryIds: beneficiaryIds.slice(0, 2) });
    if (!booked.ok) throw new Error(`book: ${booked.status}`);
    // two bookings in one event-loop turn: one coalesced call (bookAppointments)
    const family = await accountWithBeneficiaries(engine, 2);
    const pair = await Promise.all(family.beneficiaryIds.map((id) => engine.book({ accountId: family.accountId, sessionId, slot: slots[0]!, dose: 1, beneficiaryIds: [id] })));
    expect(pair.map((o) => o.ok)).toEqual([true, true]);
    expect((await engine.reschedule(accountId, booked.appointmentId, otherSessionId, slots[1]!)).ok).toBe(true);
    expect((await engine.cancel(accountId, booked.appointmentId, [beneficiaryIds[1]!])).ok).toBe(true);
    expect((await engine.deleteBeneficiary(accountId, beneficiaryIds[2]!)).ok).toBe(true);
    clock.advance(2 * 86_400_000); // the rescheduled appointment's day
    const vaccinated = await engine.markVaccinated({
      appointmentId: booked.appointmentId,
      beneficiaryId: beneficiaryIds[0]!,
      securityCode: await securityCodeOf(engine, booked.appointmentId, beneficiaryIds[0]!),
      vaccinatorId: 'vaccinator-1',
      centerIds: [demoCenterId(engine)],
    });
    expect(vaccinated, JSON.stringify(vaccinated)).toMatchObject({ ok: true });
    if (!vaccinated.ok) return;

    // operators and certificates
    const operators = new Operators(redis, engine.scripts, clock.now);
    expect((await operators.issue('vaccinator-2', 'vaccinator', [demoCenterId(engine)], 'admin')).ok).toBe(true);
    expect((await operators.loginWithAdminKey()).ok).toBe(true);
    expect((await operators.revoke('vaccinator-2', 'admin')).ok).toBe(true);
    const certificates = new Certificates(redis, engine.scripts, clock.now, engine.certificates.ring, engine.certificates.issuer);
    expect((await certificates.revoke(vaccinated.certificateId, 'admin', 'issued in error')).ok).toBe(true);
    // partners: registered and changed, a key issued, a call counted, the key revoked
    const partners = new Partners(redis, engine.scripts, clock.now, new PostgresPartnerLedger(pool));
    const partner = { partnerId: 'slotbot', name: 'Slot Bot', contact: 'ops@slotbot.example', scopes: ['availability' as const], limits: { perMinute: 5, perDay: 10 } };
    expect((await partners.register(partner, 'admin')).ok).toBe(true);
    expect((await partners.register({ ...partner, status: 'suspended' }, 'admin')).ok).toBe(true);
    const partnerKey = await partners.issueKey('slotbot', 'admin');
    if (!partnerKey.ok) throw new Error(`issueKey: ${partnerKey.status}`);
    expect((await partners.consumeQuota('slotbot', partner.limits)).allowed).toBe(true);
    expect((await partners.revokeKey('slotbot', partnerKey.keyId, 'admin')).ok).toBe(true);
    // the access log: an operator's entry, counted
    const accessLog = new AccessLog(engine.scripts, clock.now);
    await accessLog.append(
      { at: clock.now(), actor_kind: 'vaccinator', actor: 'vaccinator-1', partner: '', address: '192.0.2.1', method: 'GET', route: '/teeka/vaccinator/day', objects: ['beneficiary:1'], status: 200 },
      { reader: 'operator:vaccinator-1', windowMs: 3_600_000 },
    );
    // and a citizen's (not counted: batched with others answered in the same turn)
    await accessLog.append({ at: clock.now(), actor_kind: 'citizen', actor: 'account-1', partner: '', address: '192.0.2.1', method: 'GET', route: '/api/v2/appointment/beneficiaries', objects: ['account:account-1'], status: 200 });
    // the worker's dead letters (worker/dead-letter.ts), with nothing to set aside
    await new LuaScripts(redis).run('setAsideOutboxEntries', [keys.outbox(), keys.outboxDeadLetters()], ['teeka-persist']);

    // the partitioned booking (engine/partitioned-booking.ts): a booking, a refused one, a booking
    // stopped after its hold and recovered (decide, release), a reschedule to another partition, a cancel
    const partitioned = new PartitionedBooking(engine);
    const [p1, p2] = await partitionedSessions(partitioned, 2);
    const account = await partitionedAccount(engine, 3);
    const partitionedBooked = await partitioned.book({ accountId: account.accountId, sessionId: p1!, slot: slots[0]!, dose: 1, beneficiaryIds: account.beneficiaryIds.slice(0, 2) });
    if (!partitionedBooked.ok) throw new Error(`partitioned book: ${partitionedBooked.status}`);
    expect((await partitioned.reschedule(account.accountId, partitionedBooked.appointmentId, p2!, slots[1]!)).ok).toBe(true);
    expect((await partitioned.cancel(account.accountId, partitionedBooked.appointmentId, [account.beneficiaryIds[1]!])).ok).toBe(true);
    partitioned.stopAfter = { operation: 'book', step: 1 };
    await expect(partitioned.book({ accountId: account.accountId, sessionId: p1!, slot: slots[0]!, dose: 1, beneficiaryIds: [account.beneficiaryIds[2]!] })).rejects.toThrow(StoppedAfterStep);
    clock.advance(60_000);
    expect(await partitioned.resolveExpiredIntents(engine.partitions.of(account.accountId))).toBe(1);
    // the vaccinator's action in the account's partition, and the certificate's revocation there
    const patient = await vaccinatedInPartition(partitioned);
    const partitionedCertificates = new Certificates(redis, engine.scripts, clock.now, engine.certificates.ring, engine.certificates.issuer, engine.partitions);
    expect((await partitionedCertificates.revoke(patient.certificateId, 'admin', 'issued in error')).ok).toBe(true);

    // fair admission (engine/fair-admission.ts): join, the shuffle and an admission, the status, an admission checked and used
    const fairId = await publishSession(engine, { opens_at: clock.ms + 60_000, fair_admission: true, date: engine.today() + 2 });
    const fair = (await engine.getSession(fairId))!;
    const queued = await accountWithBeneficiaries(engine, 1);
    expect((await engine.fairAdmission.join(fair, queued.accountId, queued.beneficiaryIds)).ok).toBe(true);
    clock.advance(60_000);
    expect((await engine.fairAdmission.admit(fair)).changed).toEqual([queued.accountId]);
    const place = await engine.fairAdmission.status(fair, queued.accountId);
    if (!place.ok || !place.queue.admission) throw new Error('no admission');
    expect((await engine.fairAdmission.checkAdmission(fairId, queued.accountId, place.queue.admission, queued.beneficiaryIds, false)).ok).toBe(true);
    expect((await engine.fairAdmission.useAdmission(fairId, queued.accountId, place.queue.admission)).ok).toBe(true);

    // registering in the account's partition (engine/partitioned-beneficiaries.ts): one registration,
    // one stopped after its reservation and resolved by the next past its deadline, a removal
    const registrations = new PartitionedBeneficiaries(engine);
    const registrant = engine.accountIdOf('9876500002');
    const registered = await registrations.register(registrant, newPerson(engine));
    if (!registered.ok) throw new Error(`register: ${registered.status}`);
    const contested = newPerson(engine);
    registrations.stopAfter = { operation: 'register', step: 1 };
    await expect(registrations.register(registrant, contested)).rejects.toThrow(StoppedAfterStep);
    clock.advance(60_000);
    expect((await registrations.register(engine.accountIdOf('9876500003'), contested)).ok).toBe(true);
    expect((await registrations.remove(registrant, registered.beneficiaryId)).ok).toBe(true);

    const scriptCalls = calls.filter((c) => scriptBySha.has(c.command as never) || [...scriptBySha.values()].includes(c.command as never));
    const scriptsSeen = new Set(scriptCalls.map((c) => c.command));
    expect([...scriptsSeen].sort()).toEqual([...new Set(scriptBySha.values())].sort());
    const crossSlot = calls
      .filter((c) => c.keys.length > 1)
      .filter((c) => new Set(c.keys.map(slotOf)).size > 1)
      .map((c) => `${c.command}: ${c.keys.join(' ')}`);
    expect(crossSlot).toEqual([]);
    // the per-account scripts use the account's partition; the booking scripts the booking partition
    const tags = (name: string) => new Set(scriptCalls.filter((c) => c.command === name).flatMap((c) => c.keys.map((k) => /\{([^}]+)\}/.exec(k)![1])));
    expect([...tags('consumeSearchQuota')]).toEqual([engine.partitions.tag(engine.partitions.of(relogin.accountId)).slice(1, -1)]);
    expect([...tags('consumeSearchQuotas')]).toEqual([engine.partitions.tag(engine.partitions.of(relogin.accountId)).slice(1, -1)]);
    expect([...tags('passOtpGate')]).toEqual(['otp']);
    expect([...tags('bookAppointment')]).toEqual(['bk']);
    expect([...tags('bookAppointments')]).toEqual(['bk']);
    // the partitioned steps: the account's partition, or the session's
    const tagOf = (id: string) => engine.partitions.tagOf(id).slice(1, -1);
    expect([...tags('holdAppointment')].sort()).toEqual([...new Set([tagOf(account.accountId), tagOf(patient.accountId)])].sort());
    expect([...tags('takeSeats')].sort()).toEqual([...new Set([tagOf(p1!), tagOf(p2!), tagOf(patient.sessionId)])].sort());
    expect(tagOf(p1!)).not.toBe(tagOf(p2!));
    expect([...tags('recordVaccination')]).toEqual([tagOf(patient.accountId)]);
    expect([...tags('revokeCertificate')].sort()).toEqual(['bk', tagOf(patient.accountId)].sort());
    // a registration: the account's partition, and the photo ID's
    expect([...tags('registerBeneficiary')].sort()).toEqual([...new Set([tagOf(registrant), tagOf(engine.accountIdOf('9876500003')), tagOf(patient.accountId)])].sort());
    expect([...tags('removeBeneficiary')]).toEqual([tagOf(registrant)]);
    expect([...tags('abortRegistration')]).toEqual([tagOf(registrant)]);
    const photoTag = tagOf(engine.beneficiaryToStore(contested)!.photoIdHash);
    expect([...tags('reservePhotoId')]).toContain(photoTag);
    expect([...tags('settlePhotoId')]).toContain(photoTag);
    // a session's queue: the session's partition
    for (const name of ['joinQueue', 'admitQueue', 'queueStatus', 'checkAdmission', 'useAdmission']) expect([...tags(name)], name).toEqual([tagOf(fairId)]);
  });
});
