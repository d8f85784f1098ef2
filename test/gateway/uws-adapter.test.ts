/**
 * The uWS adapter's request as routes see it, over real HTTP on loopback: a request without a query
 * shares one empty query (no allocation per POST), which refuses writes so that no route can leak a
 * parameter into every later request; the client's address is read as text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json } from '../../gateway/http.js';
import { startServer, type RunningServer } from '../../gateway/uws-adapter.js';

describe('uws adapter: the request a route sees', () => {
  let server: RunningServer;
  let base: string;

  beforeAll(async () => {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 1024,
      maxUrlBytes: 1024,
      allowFallback: false,
      handle: (request) => {
        let writeRefused = '';
        if (request.path === '/write') {
          try {
            request.query.set('leaked', '1');
          } catch (err) {
            writeRefused = (err as Error).message;
          }
        }
        return json(200, { query: [...request.query], writeRefused, address: request.remoteAddress, bodyValue: request.bodyValue ?? null });
      },
      onError: () => json(500, {}),
      refuse: (status) => json(status, {}),
    });
    base = `http://127.0.0.1:${server.port}`;
  });
  afterAll(() => {
    server.close();
    server.closeConnections();
  });

  const get = async (path: string) => (await fetch(`${base}${path}`)).json() as Promise<{ query: string[][]; writeRefused: string; address: string; bodyValue: unknown }>;

  it('gives a request without a query the shared empty one, which refuses a write, and every later request still sees its own', async () => {
    expect(await get('/write')).toMatchObject({ query: [], writeRefused: expect.stringContaining('shared'), bodyValue: null });
    expect(await get('/read?district_id=5&date=01-06-2021')).toMatchObject({ query: [['district_id', '5'], ['date', '01-06-2021']] });
    // the refused write left nothing behind for the next request without a query
    expect(await get('/read')).toMatchObject({ query: [] });
    // a request's own query is its own to change
    expect(await get('/write?a=1')).toMatchObject({ query: [['a', '1'], ['leaked', '1']], writeRefused: '' });
  });

  it("reads the client's address as text", async () => {
    expect((await get('/read')).address).toBe('127.0.0.1');
  });
});
