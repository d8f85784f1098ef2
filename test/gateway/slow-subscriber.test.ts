/**
 * A subscriber that never reads is dropped once its unsent messages pass TEEKA_WS_MAX_BUFFERED_BYTES,
 * and one that reads is untouched.
 *
 * Driven by server pushes: bookings into a session of the subscribed district, each one availability
 * change the gateway pushes whether or not the subscriber reads. (A flood of client messages each answered by the
 * gateway is not a deterministic test: uWS stops reading a backpressured socket, so the flooding
 * client is held by flow control rather than dropped.) What the gateway pushes first fills the
 * kernel's buffers: the subscriber's receive buffer stays near tcp_rmem's default (128 KB) because
 * it never reads, and the gateway's send buffer grows to tcp_wmem's maximum at most (4 MB here). The
 * bookings go on, in rounds, until the gateway drops the socket or a bound far above those buffers
 * (100,000 bookings, about 15 MB pushed) is reached.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createBeneficiaryPool, runWithConcurrency } from '../../loadtest/bench-support.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';

const DISTRICT = 140;
const MAX_BOOKINGS = 100_000;
const ROUND = 5_000;

function open(url: string): Promise<{ socket: WebSocket; messages: { type: string }[] }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const messages: { type: string }[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as { type: string }));
    socket.once('open', () => resolve({ socket, messages }));
    socket.once('error', reject);
  });
}

describe('a slow subscriber', () => {
  let limited: RunningGateway;
  beforeAll(async () => {
    // the test's engine books one by one: a coalesced batch publishes its session once, not per booking
    limited = await startGateway({ TEEKA_WS_MAX_BUFFERED_BYTES: '16384' }, { coalesce: false });
  });
  afterAll(() => limited?.stop());

  it('a subscriber that never reads is dropped once its unsent pushes pass TEEKA_WS_MAX_BUFFERED_BYTES', async () => {
    // the gateway's own count of open sockets (aggregated over its threads once a second)
    const openSockets = async () => Number(/^teeka_websocket_connections (\d+)$/m.exec(await (await fetch(`${limited.url}/metrics`)).text())?.[1]);
    const url = `ws://127.0.0.1:${limited.port}/teeka/ws/availability?district_id=${DISTRICT}`;
    const reader = await open(url);
    const neverReads = await open(url);
    neverReads.socket.pause(); // from now on every push stays with the gateway or the kernel
    let closed = false;
    neverReads.socket.once('close', () => (closed = true));
    neverReads.socket.on('error', () => {});
    await expect.poll(openSockets, { timeout: 5_000 }).toBe(2);

    const { engine, redis } = limited;
    const center = engine.country.centersByDistrict.get(DISTRICT)![0]!;
    const slots = engine.country.slotsOf(center);
    const published = await engine.publishSession({
      center_id: center.center_id, date: engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18,
      capacity_dose1: MAX_BOOKINGS, capacity_dose2: 0, slot_capacity: slots.map(() => MAX_BOOKINGS),
    });
    if (!published.ok) throw new Error(`publishSession: ${published.status}`);
    // one booking of one beneficiary is one availability entry, pushed to the district's subscribers
    let bookings = 0;
    let stillOpen = 2;
    while (stillOpen === 2 && bookings < MAX_BOOKINGS) {
      const account = `slow-subscriber-${bookings}`;
      const beneficiaries = await createBeneficiaryPool(redis, account, ROUND, bookings);
      await runWithConcurrency(ROUND, 50, async (i) => {
        const outcome = await engine.book({ accountId: account, sessionId: published.sessionId, slot: slots[0]!, dose: 1, beneficiaryIds: [beneficiaries[i]!] });
        if (!outcome.ok) throw new Error(`book: ${outcome.status}`);
      });
      bookings += ROUND;
      stillOpen = await openSockets();
    }
    await expect.poll(openSockets, { timeout: 5_000 }).toBe(1);
    console.log(`the subscriber that never read was dropped after at most ${bookings} bookings`);
    neverReads.socket.resume(); // reads what reached it, then the end
    await expect.poll(() => closed, { timeout: 5_000 }).toBe(true);

    // the subscriber that reads kept receiving, and is still subscribed
    expect(reader.messages.filter((m) => m.type === 'availability').length).toBeGreaterThan(0);
    reader.socket.send(JSON.stringify({ subscribe: [266] }));
    await expect.poll(() => reader.messages.filter((m) => m.type === 'subscribed').length).toBe(2);
    reader.socket.close();
  }, 180_000);
});
