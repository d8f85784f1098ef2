/**
 * The uWS adapter's request as routes see it, over real HTTP on loopback: a request without a query
 * shares one empty query (no allocation per POST), which refuses writes so that no route can leak a
 * parameter into every later request; the client's address is read as text; every header the
 * gateway reads arrives (looked up by its name's bytes); a frozen answer, written from bytes encoded
 * once, reaches the client exactly as the same answer made per request.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiErrorFor, Status } from '../../engine/status.js';
import { apiError, json, READ_HEADERS } from '../../gateway/http.js';
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
        const full = apiErrorFor(Status.FULL);
        // the same 409 twice: shared and frozen (encoded once), and made for this request
        if (request.path === '/fixed') return apiError(full);
        if (request.path === '/made') return json(full.httpStatus, { errorCode: full.errorCode, error: full.error });
        if (request.path === '/headers') return json(200, request.headers);
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

  /** status, headers (without Date) and body bytes exactly as they came over the socket */
  const raw = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = httpRequest(`${base}${path}`, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const { date: _date, ...rest } = res.headers;
          resolve({ status: res.statusCode!, headers: rest, body: Buffer.concat(chunks).toString('latin1') });
        });
      });
      req.on('error', reject);
      req.end();
    });

  it('writes a frozen answer from its encoded bytes exactly as the same answer made per request, also when the client closes', async () => {
    for (const headers of [{}, { connection: 'close' }] as Record<string, string>[]) {
      const [fixed, made] = await Promise.all([raw('/fixed', headers), raw('/made', headers)]);
      expect(fixed.status).toBe(409);
      expect(JSON.parse(fixed.body)).toMatchObject({ errorCode: 'APPOIN0040' });
      expect(fixed).toEqual(made);
      // twice: the second answer comes from the cache of encoded answers
      expect(await raw('/fixed', headers)).toEqual(fixed);
    }
    expect((await raw('/fixed', { connection: 'close' })).headers.connection).toBe('close');
  });

  it('reads every header the gateway reads, and an absent one as empty', async () => {
    const sent = { authorization: 'Bearer abc.def.ghi', 'accept-language': 'hi-IN', 'x-api-key': 'tk_1', 'x-admission': 'a'.repeat(20), 'user-agent': 'bot/1.0' };
    const { body } = await raw('/headers', sent);
    const seen = JSON.parse(body) as Record<string, string>;
    expect(Object.keys(seen).sort()).toEqual([...READ_HEADERS].sort());
    for (const name of READ_HEADERS) {
      if (name in sent) expect(seen[name]).toBe(sent[name as keyof typeof sent]);
      else if (!['accept', 'content-length', 'accept-encoding'].includes(name)) expect(seen[name]).toBe('');
    }
  });
});
