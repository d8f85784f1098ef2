/**
 * A subscriber that never reads is dropped once its unsent messages pass TEEKA_WS_MAX_BUFFERED_BYTES.
 *
 * SKIPPED, because it is not deterministic. The flood of one-byte messages, each answered with an
 * error, was dropped within 4 s in some runs and not within 115 s in others, alone or beside other
 * files. The answers must first fill the kernel's socket buffers (tcp_rmem allows 32 MB here), and
 * then uWS seems to stop reading a backpressured socket, so the answers stop growing before they
 * pass the limit: a flooding client is held by flow control rather than dropped. Whether one read
 * batches enough messages to cross the limit decides the outcome. The deterministic form of this
 * test drives server pushes (availability changes to a subscribed district), which the gateway
 * sends whether or not it reads; it is left for issue 12.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startGateway, type RunningGateway } from '../support/gateway.js';

function open(url: string): Promise<{ socket: WebSocket; messages: { data: { type: string } }[] }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const messages: { data: { type: string } }[] = [];
    socket.on('message', (data) => messages.push({ data: JSON.parse(String(data)) }));
    socket.once('open', () => resolve({ socket, messages }));
    socket.once('error', reject);
  });
}

describe('a slow subscriber', () => {
  let limited: RunningGateway;
  beforeAll(async () => {
    limited = await startGateway({ TEEKA_WS_MAX_BUFFERED_BYTES: '16384' });
  });
  afterAll(() => limited?.stop());
  const url = () => `ws://127.0.0.1:${limited.port}/teeka/ws/availability?district_id=140`;

  it.skip('a subscriber that never reads is dropped once its unsent messages pass TEEKA_WS_MAX_BUFFERED_BYTES', async () => {
    // the gateway's own count of open sockets (aggregated over its threads once a second)
    const openSockets = async () => Number(/^teeka_websocket_connections (\d+)$/m.exec(await (await fetch(`${limited.url}/metrics`)).text())?.[1]);
    const reader = await open(url());
    const { socket: neverReads } = await open(url());
    await expect.poll(openSockets, { timeout: 5_000 }).toBe(2);
    neverReads.pause(); // stops reading its socket: every answer stays with the gateway or the kernel
    let closed = false;
    neverReads.once('close', () => (closed = true));
    neverReads.on('error', () => {});
    // each one-byte message earns a ~70-byte error answer; the kernel's socket buffers hold a few
    // MB, the gateway may hold 16 KB more
    // bounded by time, not by count: on a busy machine the gateway reads the flood slowly, and the
    // sender's own buffer (not the gateway's) holds what it has not read yet
    const until = Date.now() + 100_000;
    let stillOpen = 2;
    while (stillOpen === 2 && Date.now() < until) {
      if (neverReads.bufferedAmount < 4 * 1024 * 1024) for (let i = 0; i < 20_000; i++) neverReads.send('x');
      await new Promise((r) => setTimeout(r, 100));
      stillOpen = await openSockets();
    }
    await expect.poll(openSockets, { timeout: 5_000 }).toBe(1);
    neverReads.resume(); // reads what reached it, then the end
    await expect.poll(() => closed, { timeout: 5_000 }).toBe(true);

    // a subscriber that reads is untouched
    reader.socket.send(JSON.stringify({ subscribe: [266] }));
    await expect.poll(() => reader.messages.map((m) => m.data.type)).toEqual(['subscribed', 'subscribed']);
    reader.socket.close();
  }, 150_000);
});
