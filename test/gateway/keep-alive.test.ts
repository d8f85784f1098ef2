/**
 * HTTP framing that keeps connections alive: 204 and 304 carry no body and no length, the next
 * request on the same connection is answered after every status, and a close is announced.
 * Checked byte by byte over raw sockets, then with the keep-alive clients people use (Node's
 * http.Agent, Python's requests.Session).
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CowinClient, startGateway, testMobile, testPhotoId, type RunningGateway } from '../support/gateway.js';

let gateway: RunningGateway;
let citizen: CowinClient;
let sessionId: string;
let slots: string[];

beforeAll(async () => {
  gateway = await startGateway();
  const center = gateway.engine.country.centersByDistrict.get(140)![0]!;
  slots = gateway.engine.country.slotsOf(center);
  const published = await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 50, capacity_dose2: 10 });
  if (!published.ok) throw new Error('publish failed');
  sessionId = published.sessionId;
  citizen = await new CowinClient(gateway.url).login(testMobile());
});
afterAll(() => gateway?.stop());

/** One response as it arrived: the head's exact bytes, its headers (lower-case names, repeated ones joined) and body. */
interface RawResponse {
  head: string;
  status: number;
  headers: Map<string, string[]>;
  body: string;
}

/**
 * One TCP connection, read as HTTP/1.1 by hand: nothing smooths over a wrong length, a missing
 * `Connection: close` or a connection the server dropped.
 */
class RawConnection {
  private buffer = Buffer.alloc(0);
  private ended = false;
  private wake: () => void = () => {};

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  send(...requests: string[]): void {
    this.socket.write(requests.join(''));
  }

  /** Waits until `ready()` holds or the server ends the connection (then `ready()` is tried once more). */
  private async until<T>(ready: () => T | undefined, timeoutMs = 3000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = ready();
      if (value !== undefined) return value;
      if (this.ended) throw new Error(`the server closed the connection; unread bytes: ${JSON.stringify(this.buffer.toString('latin1'))}`);
      if (Date.now() > deadline) throw new Error(`no complete response in ${timeoutMs} ms; unread bytes: ${JSON.stringify(this.buffer.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  /** The next response; `noBody` for a HEAD request (a 204 or 304 never has one). */
  response(noBody = false): Promise<RawResponse> {
    return this.until(() => {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return undefined;
      const head = this.buffer.subarray(0, end + 4).toString('latin1');
      const [statusLine, ...lines] = head.slice(0, -4).split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine!)?.[1]);
      const headers = new Map<string, string[]>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
      }
      let length = 0;
      if (!noBody && status !== 204 && status !== 304) {
        const declared = headers.get('content-length');
        if (!declared) throw new Error(`a ${status} without Content-Length: ${head}`);
        length = Number(declared[0]);
      }
      if (this.buffer.length < end + 4 + length) return undefined;
      const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(end + 4 + length);
      return { head, status, headers, body };
    });
  }

  /** Bytes received and not yet read as a response. */
  unread(): string {
    return this.buffer.toString('latin1');
  }

  /** Resolves true when the server ends the connection within `ms`. */
  closedByServer(ms = 2000): Promise<boolean> {
    return this.until(() => (this.ended ? true : undefined), ms).catch(() => this.ended);
  }

  close(): void {
    this.socket.destroy();
  }
}

function request(method: string, path: string, { body, headers = {} }: { body?: unknown; headers?: Record<string, string> } = {}): string {
  const text = body === undefined ? '' : JSON.stringify(body);
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: Bearer ${citizen.token}`];
  if (body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text)}`);
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n${text}`;
}

/** A 204 or 304 as RFC 9110 frames it: no body, no Content-Length, no Transfer-Encoding, and no close. */
function expectBodylessKeepAlive(response: RawResponse, status: 204 | 304): void {
  expect(response.head.startsWith(`HTTP/1.1 ${status} `), response.head).toBe(true);
  expect(response.headers.has('content-length'), response.head).toBe(false);
  expect(response.headers.has('transfer-encoding'), response.head).toBe(false);
  expect(response.headers.has('connection'), response.head).toBe(false);
}

async function bookedAppointment(beneficiaryId: string): Promise<string> {
  const booked = await citizen.post('/api/v2/appointment/schedule', { dose: 1, session_id: sessionId, slot: slots[0], beneficiaries: [beneficiaryId] });
  expect(booked.status, booked.text).toBe(200);
  return booked.json.appointment_confirmation_no;
}

/** The ETag of the uncompressed citizen page (each encoding has its own; no request here asks for one). */
async function pageEtag(): Promise<string> {
  const page = await fetch(`${gateway.url}/`, { headers: { 'accept-encoding': 'identity' } });
  expect(page.status).toBe(200);
  await page.arrayBuffer();
  return page.headers.get('etag')!;
}

describe('over a raw socket', () => {
  it('beneficiary delete: 204 framed exactly, and the next request on the socket is answered', async () => {
    const beneficiary = await citizen.addBeneficiary('Keep Alive', 1980, testPhotoId());
    const connection = await RawConnection.open(gateway.port);
    connection.send(request('POST', '/api/v2/registration/beneficiary/delete', { body: { beneficiary_reference_id: beneficiary } }));
    const deleted = await connection.response();
    expectBodylessKeepAlive(deleted, 204);
    // sequential: the next request after the 204 arrived
    connection.send(request('GET', '/api/v2/appointment/beneficiaries'));
    const list = await connection.response();
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body).beneficiaries.map((b: any) => b.beneficiary_reference_id)).not.toContain(beneficiary);
    expect(connection.unread()).toBe('');
    connection.close();
  });

  it('reschedule and cancel: 204s framed exactly, and the socket answers each next request', async () => {
    const beneficiary = await citizen.addBeneficiary('Rescheduling', 1981, testPhotoId());
    const appointment = await bookedAppointment(beneficiary);
    const connection = await RawConnection.open(gateway.port);
    // one request at a time: uWS closes a connection that pipelines a request behind one still being
    // answered asynchronously (these wait for Redis); no common client pipelines
    connection.send(request('POST', '/api/v2/appointment/reschedule', { body: { appointment_id: appointment, session_id: sessionId, slot: slots[1] } }));
    expectBodylessKeepAlive(await connection.response(), 204);
    connection.send(request('POST', '/api/v2/appointment/cancel', { body: { appointment_id: appointment, beneficiariesToCancel: [beneficiary] } }));
    expectBodylessKeepAlive(await connection.response(), 204);
    connection.send(request('GET', '/healthz'));
    const health = await connection.response();
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });
    expect(connection.unread()).toBe('');
    expect((await gateway.engine.getSession(sessionId))!.booked1).toBe(0);
    connection.close();
  });

  it('page revalidation: 304 framed exactly, and the socket goes on; HEAD keeps it too', async () => {
    const etag = await pageEtag();
    const connection = await RawConnection.open(gateway.port);
    // pipelined (the page is answered at once): each answer must end exactly where the next begins
    connection.send(request('GET', '/', { headers: { 'If-None-Match': etag } }), request('HEAD', '/'), request('GET', '/'));
    const revalidated = await connection.response();
    expectBodylessKeepAlive(revalidated, 304);
    expect(revalidated.headers.get('etag')).toEqual([etag]);
    const head = await connection.response(true);
    const page = await connection.response();
    expect(head.status).toBe(200);
    expect(page.status).toBe(200);
    // HEAD tells the length GET sends, and sends no body
    expect(head.headers.get('content-length')).toEqual([String(Buffer.byteLength(page.body))]);
    expect(page.body).toContain('<html');
    connection.close();
  });

  it('Connection: close is answered with Connection: close, then the server closes', async () => {
    const etag = await pageEtag();
    const beneficiary = await citizen.addBeneficiary('Closing', 1982, testPhotoId());
    for (const [closing, status, noBody] of [
      [request('GET', '/healthz', { headers: { Connection: 'close' } }), 200, false],
      [request('GET', '/', { headers: { 'If-None-Match': etag, Connection: 'close' } }), 304, false],
      [request('POST', '/api/v2/registration/beneficiary/delete', { body: { beneficiary_reference_id: beneficiary }, headers: { Connection: 'close' } }), 204, false],
      [request('HEAD', '/', { headers: { Connection: 'close' } }), 200, true],
      // `close` as one option of a list (RFC 9112 §9.6)
      [request('GET', '/healthz', { headers: { Connection: 'keep-alive, close' } }), 200, false],
    ] as const) {
      const connection = await RawConnection.open(gateway.port);
      connection.send(closing);
      const response = await connection.response(noBody);
      expect(response.status).toBe(status);
      expect(response.headers.get('connection'), response.head).toEqual(['close']);
      expect(await connection.closedByServer(), `closed after ${response.head}`).toBe(true);
      connection.close();
    }
  });

  it('a refused request body closes the connection and says so', async () => {
    const connection = await RawConnection.open(gateway.port);
    connection.send(`POST /api/v2/registration/beneficiary/new HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`);
    const refused = await connection.response();
    expect(refused.status).toBe(413);
    expect(refused.headers.get('connection')).toEqual(['close']);
    expect(await connection.closedByServer()).toBe(true);
    connection.close();
  });
});

describe('with real keep-alive clients', () => {
  it("Node's http.Agent({keepAlive: true}) sends 204, 304 and 200 requests over one socket", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<net.Socket>();
    const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const text = body === undefined ? undefined : JSON.stringify(body);
        const req = http.request(
          `${gateway.url}${path}`,
          { method, agent, headers: { authorization: `Bearer ${citizen.token}`, ...(text ? { 'content-type': 'application/json' } : {}), ...headers } },
          (res) => {
            sockets.add(res.socket);
            let data = '';
            res.setEncoding('utf8');
            res.on('data', (chunk) => (data += chunk));
            res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
          },
        );
        req.on('error', reject);
        req.end(text);
      });
    try {
      const etag = await pageEtag();
      const beneficiary = await citizen.addBeneficiary('Agent', 1983, testPhotoId());
      const other = await citizen.addBeneficiary('Agent Two', 1984, testPhotoId());
      const appointment = await bookedAppointment(other);
      const statuses: number[] = [];
      statuses.push((await call('POST', '/api/v2/registration/beneficiary/delete', { beneficiary_reference_id: beneficiary })).status);
      statuses.push((await call('GET', '/api/v2/appointment/beneficiaries')).status);
      statuses.push((await call('GET', '/', undefined, { 'if-none-match': etag })).status);
      statuses.push((await call('GET', '/healthz')).status);
      statuses.push((await call('POST', '/api/v2/appointment/reschedule', { appointment_id: appointment, session_id: sessionId, slot: slots[1] })).status);
      statuses.push((await call('POST', '/api/v2/appointment/cancel', { appointment_id: appointment, beneficiariesToCancel: [other] })).status);
      statuses.push((await call('GET', '/healthz')).status);
      expect(statuses).toEqual([204, 200, 304, 200, 204, 204, 200]);
      expect(sockets.size, 'every request on one kept-alive socket').toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it("Python's requests.Session keeps its one connection through 204 and 304", async () => {
    const etag = await pageEtag();
    const beneficiary = await citizen.addBeneficiary('Python', 1985, testPhotoId());
    // urllib3 logs each new connection it opens: a dropped keep-alive connection shows as a second
    // one, or as an error on the request after the 204/304
    const script = `
import json, logging, sys, requests
opened = []
class Count(logging.Handler):
    def emit(self, record):
        if 'Starting new HTTP connection' in record.getMessage(): opened.append(record.getMessage())
log = logging.getLogger('urllib3.connectionpool'); log.setLevel(logging.DEBUG); log.addHandler(Count())
base, token, beneficiary, etag = sys.argv[1:5]
s = requests.Session()
s.headers['Authorization'] = 'Bearer ' + token
s.headers['Accept-Encoding'] = 'identity'
statuses = []
for method, path, body, headers in [
    ('GET', '/healthz', None, {}),
    ('POST', '/api/v2/registration/beneficiary/delete', {'beneficiary_reference_id': beneficiary}, {}),
    ('GET', '/api/v2/appointment/beneficiaries', None, {}),
    ('GET', '/', None, {'If-None-Match': etag}),
    ('GET', '/healthz', None, {}),
]:
    try:
        statuses.append(s.request(method, base + path, json=body, headers=headers, timeout=5).status_code)
    except Exception as e:
        statuses.append(type(e).__name__)
print(json.dumps({'statuses': statuses, 'connections': len(opened)}))
`;
    const run = spawnSync('python3', ['-c', script, gateway.url, citizen.token, beneficiary, etag], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ statuses: [200, 204, 200, 304, 200], connections: 1 });
  });
});
