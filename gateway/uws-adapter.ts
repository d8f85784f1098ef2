/**
 * The only module that imports uWebSockets.js. It owns uWS's rules so no route has to know them:
 *
 * - everything needed from `req` is copied before the first await (req is stack-allocated);
 * - `res.onAborted` is attached before any async work and aborts the request's AbortSignal; after
 *   an abort, `res` is never touched again;
 * - writes after an await happen inside `res.cork(...)`;
 * - the body is capped while it is read (413 past the cap, or at once from Content-Length);
 * - no exception crosses a uWS callback: a throwing route becomes a 500 (or what `onError` says);
 * - every status keeps the connection alive, and a close is announced (see `writeResponse`). uWS
 *   itself closes a connection that pipelines a request behind one still being answered
 *   asynchronously; browsers and the common clients do not pipeline.
 *
 * It also refuses to run on the package's silent JavaScript fallback unless explicitly allowed.
 */
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';
import type { ConnectionsPerAddress } from './connections-per-address.js';
import { READ_HEADERS, type HeaderName, type HttpRequest, type HttpResponse } from './http.js';
import type { TokenClaims } from '../engine/tokens.js';

const require = createRequire(import.meta.url);

export class UwsFallbackError extends Error {
  constructor(reason: string) {
    super(
      `uWebSockets.js is running its slow JavaScript fallback (${reason}). ` +
        'Refusing to start; set TEEKA_ALLOW_UWS_FALLBACK=1 to run anyway (never in production).',
    );
    this.name = 'UwsFallbackError';
  }
}

let loaded: { uws: typeof Uws; native: boolean } | undefined;

/**
 * Load uWS and tell whether its native binary is what loaded. The package falls back to a JS
 * implementation when its binary does not load (or when UWS_USE_FALLBACK is set) and only warns;
 * we detect that by loading the binary ourselves and comparing it with what the package returned.
 */
export function loadUws(allowFallback: boolean): typeof Uws {
  if (!loaded) {
    const uws = require('uWebSockets.js') as typeof Uws;
    const binary = `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
    let native: unknown;
    let reason = 'UWS_USE_FALLBACK is set';
    try {
      native = require(binary);
    } catch (err) {
      reason = `its native binary ${binary} did not load: ${(err as Error).message.split('\n')[0]}`;
    }
    loaded = { uws, native: native !== undefined && native === uws };
    if (!loaded.native && !allowFallback) throw new UwsFallbackError(reason);
    if (!loaded.native) console.warn(`warning: ${new UwsFallbackError(reason).message.split('.')[0]}; allowed by configuration`);
  }
  return loaded.uws;
}

export function isNativeUws(): boolean {
  return loaded?.native ?? false;
}

/** A WebSocket as routes see it. */
export interface SocketConnection {
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

export interface WebSocketRoute {
  path: string;
  /** called at the upgrade with the query; a response refuses the upgrade with it */
  accept?: (query: URLSearchParams) => HttpResponse | null;
  onOpen(socket: SocketConnection, query: URLSearchParams): void;
  onMessage(socket: SocketConnection, text: string): void;
  onClose?(socket: SocketConnection): void;
}

export interface ServerOptions {
  host: string;
  port: number;
  /** largest request body accepted; larger gets 413 */
  maxBodyBytes: number;
  /** longest URL (path + query) accepted; longer gets 414 */
  maxUrlBytes: number;
  allowFallback: boolean;
  handle: (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;
  /** the response for a route that threw (e.g. 503 when Redis is unreachable, else 500) */
  onError: (error: unknown, request: HttpRequest) => HttpResponse;
  /**
   * the response for a request refused before routing: 413, 414, 429 (a WebSocket upgrade from an
   * address at its connection limit), 500 (a WebSocket route's `accept` threw)
   */
  refuse: (status: 413 | 414 | 429 | 500) => HttpResponse;
  /** after each response: for metrics and logs */
  onResponse?: (request: HttpRequest, response: HttpResponse, durationMs: number) => void;
  websocket?: {
    route: WebSocketRoute;
    /** open connections per client address, counted over every thread; past the limit, 429 */
    perAddress: ConnectionsPerAddress;
    /**
     * a socket whose unsent messages pass this many bytes is closed: a subscriber that reads too
     * slowly, or not at all, must not make the gateway hold its pushes without bound
     */
    maxBufferedBytes: number;
  };
}

export interface RunningServer {
  port: number;
  /** send to every WebSocket of this thread subscribed to `topic` */
  publish(topic: string, text: string): void;
  subscribers(topic: string): number;
  /** stop accepting connections; the open ones are served on */
  close(): void;
  /**
   * end every connection still open (idle keep-alive ones, WebSockets). A thread must do this
   * before it exits: Node aborts the process (uv_loop_close with open handles) when a worker thread
   * ends while uWS still holds sockets.
   */
  closeConnections(): void;
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 201: '201 Created', 204: '204 No Content', 304: '304 Not Modified', 400: '400 Bad Request',
  401: '401 Unauthorized', 403: '403 Forbidden', 404: '404 Not Found', 405: '405 Method Not Allowed',
  409: '409 Conflict', 413: '413 Payload Too Large', 414: '414 URI Too Long', 415: '415 Unsupported Media Type',
  422: '422 Unprocessable Entity', 429: '429 Too Many Requests', 500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Whether the connection ends after a response. uWS itself closes after the response when the
 * request's header is exactly `Connection: close` (any case), but does not say so in the response;
 * a close in a list (`keep-alive, close`) it does not see, and neither does it see ours unless we
 * pass `closeConnection`.
 */
type Closing =
  /** keep the connection for the client's next request */
  | 'keep-alive'
  /** the request said `Connection: close`: uWS closes by itself, we only announce it */
  | 'requested'
  /** we ask uWS to close (and it announces it) */
  | 'close';

/** What a request's Connection header asks for (RFC 9112 §9.6: `close` may be one option of a list). */
function requestedClosing(connection: string): Closing {
  if (connection === '') return 'keep-alive'; // the common case, on every request: no work
  const value = connection.toLowerCase();
  if (value === 'close') return 'requested';
  if (!value.includes('close')) return 'keep-alive';
  return value.split(',').some((option) => option.trim() === 'close') ? 'close' : 'keep-alive';
}

/**
 * Frames a response the way uWS 20.30 actually behaves (measured; test/gateway/keep-alive.test.ts
 * holds it to that):
 * - `endWithoutBody()` with no argument writes no Content-Length and keeps the connection. Any first
 *   argument, even `undefined`, is a reported length (`undefined` becomes 9223372036854775808), and
 *   with a reported length uWS waits for body bytes that never come and closes the connection. So
 *   204 and 304, which carry neither a body nor a length (RFC 9110 §8.6), and HEAD, whose length we
 *   write ourselves, call it with no argument.
 * - a response always says `Connection: close` when the connection ends after it, so a keep-alive
 *   client never sends its next request into a closing socket.
 */
function writeResponse(res: Uws.HttpResponse, response: HttpResponse, head: boolean, closing: Closing): void {
  const encoded = head ? undefined : encodedAnswer(response);
  if (encoded) {
    res.writeStatus(encoded.status);
    for (const [name, value] of encoded.headers) res.writeHeader(name, value);
    if (closing === 'requested') res.writeHeader('connection', 'close');
    res.end(encoded.body, closing === 'close');
    return;
  }
  res.writeStatus(STATUS_TEXT[response.status] ?? String(response.status));
  if (response.headers) for (const name in response.headers) res.writeHeader(name, response.headers[name]!);
  const noBody = response.status === 204 || response.status === 304;
  if (head && !noBody) res.writeHeader('content-length', String(response.body ? byteLength(response.body) : 0));
  if (noBody || head) {
    // without a length uWS cannot be asked to close; the announced close makes the client close
    // (a close we decide is only ever for a refused request body, which is answered with a body)
    if (closing !== 'keep-alive') res.writeHeader('connection', 'close');
    res.endWithoutBody();
    return;
  }
  if (closing === 'requested') res.writeHeader('connection', 'close');
  res.end(response.body ?? '', closing === 'close');
}

/** A frozen answer's status line, headers and body as the bytes uWS writes. */
interface EncodedAnswer {
  status: Buffer;
  headers: [Buffer, Buffer][];
  body: Buffer;
}
const ENCODED_ANSWERS = new WeakMap<HttpResponse, EncodedAnswer>();

/**
 * A frozen answer (a fixed error: http.ts `apiError`, the same 409 for every refused attempt of a
 * rush) encoded once: uWS converts every string it is given to UTF-8 on each call, bytes it copies
 * as they are. Undefined for every other answer, and for the bodiless statuses (written their own way).
 */
function encodedAnswer(response: HttpResponse): EncodedAnswer | undefined {
  if (!Object.isFrozen(response) || response.status === 204 || response.status === 304) return undefined;
  let encoded = ENCODED_ANSWERS.get(response);
  if (!encoded) {
    encoded = {
      status: Buffer.from(STATUS_TEXT[response.status] ?? String(response.status)),
      headers: Object.entries(response.headers ?? {}).map(([name, value]) => [Buffer.from(name), Buffer.from(value)]),
      body: Buffer.from(response.body ?? ''),
    };
    ENCODED_ANSWERS.set(response, encoded);
  }
  return encoded;
}

function byteLength(body: string | Uint8Array): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

/**
 * The query of every request without one (most POSTs): one shared object, so that a route or the
 * access log looking at it costs no allocation. Routes only read their query; a write to this
 * shared one would reach every later request, so it throws.
 */
const NO_QUERY = new URLSearchParams();
for (const write of ['append', 'set', 'delete', 'sort'] as const) {
  Object.defineProperty(NO_QUERY, write, {
    value: () => {
      throw new Error('the empty query is shared by every request without one: copy it to change it');
    },
  });
}
/**
 * The headers the gateway reads, each looked up by its name's bytes. uWS converts a JavaScript string
 * argument to UTF-8 on every call (a malloc, a copy, a free: 16 per request, measured with `perf` as
 * a few percent of a refused attempt's thread time); bytes it reads as they are. A Buffer, because
 * the JavaScript fallback indexes an object by the name and a Buffer converts back to it.
 */
const HEADER_KEYS = Object.fromEntries(READ_HEADERS.map((name) => [name, Buffer.from(name)])) as Record<HeaderName, Buffer>;
const CONNECTION_KEY = Buffer.from('connection');

/**
 * Every header the gateway reads, as one object literal of a fixed shape. Assigning the names in a
 * loop made each store a megamorphic keyed store into an object that changes shape 15 times; the
 * literal is created at once. The type keeps it to exactly READ_HEADERS (a name missing or extra is
 * a compile error).
 */
function readHeaders(req: Uws.HttpRequest): Record<HeaderName, string> {
  const k = HEADER_KEYS;
  return {
    authorization: req.getHeader(k.authorization),
    'content-type': req.getHeader(k['content-type']),
    'content-length': req.getHeader(k['content-length']),
    'idempotency-key': req.getHeader(k['idempotency-key']),
    'if-none-match': req.getHeader(k['if-none-match']),
    'x-forwarded-for': req.getHeader(k['x-forwarded-for']),
    'user-agent': req.getHeader(k['user-agent']),
    accept: req.getHeader(k.accept),
    'accept-encoding': req.getHeader(k['accept-encoding']),
    'accept-language': req.getHeader(k['accept-language']),
    origin: req.getHeader(k.origin),
    'access-control-request-method': req.getHeader(k['access-control-request-method']),
    'access-control-request-headers': req.getHeader(k['access-control-request-headers']),
    'x-api-key': req.getHeader(k['x-api-key']),
    'x-admission': req.getHeader(k['x-admission']),
  };
}

/** uWS gives the address as ASCII text in an ArrayBuffer: decoded straight, without a Buffer view around it. */
const ADDRESS_TEXT = new TextDecoder('latin1');

/**
 * One HTTP exchange: the request as routes see it (HttpRequest), and its answer. A class rather than
 * an object literal with getters and closures per request: at a rush's rate the literal's accessors
 * and the closures were a good part of what the garbage collector had to clear (a tenth of a refused
 * booking's CPU was the adapter's per-request setup, a quarter GC). The query, the client address and
 * the AbortSignal are made only when a route reads them.
 */
class UwsExchange implements HttpRequest {
  readonly headers: Record<HeaderName, string>;
  body: Buffer | null = null;
  params: Record<string, string> = {};
  route = '';
  // set by some routes later: present from the start so that every request keeps one shape
  bodyValue: unknown = undefined;
  accessInScript: { loggedAnswer?: HttpResponse } | undefined = undefined;
  claims: TokenClaims | null | undefined = undefined;
  /** the connection's fate after the answer, as the request asked */
  private readonly requested: Closing;
  private readonly started = performance.now();
  private parsedQuery: URLSearchParams | undefined = undefined;
  private address: string | undefined = undefined;
  private controller: AbortController | undefined = undefined;
  private aborted = false;
  private done = false;
  // the body as it arrives (onData)
  private chunks: Buffer[] | undefined = undefined;
  private size = 0;

  constructor(
    private readonly res: Uws.HttpResponse,
    req: Uws.HttpRequest,
    private readonly options: ServerOptions,
    readonly method: string,
    readonly path: string,
    private readonly rawQuery: string,
  ) {
    // copy everything out of req now: it is invalid after uWS's callback returns
    this.headers = readHeaders(req);
    this.requested = requestedClosing(req.getHeader(CONNECTION_KEY));
  }

  get query(): URLSearchParams {
    this.parsedQuery ??= this.rawQuery === '' ? NO_QUERY : new URLSearchParams(this.rawQuery);
    return this.parsedQuery;
  }

  // from `res` (valid until the response ends or aborts), not from the stack-allocated `req`
  get remoteAddress(): string {
    this.address ??= this.aborted ? '' : ADDRESS_TEXT.decode(this.res.getRemoteAddressAsText());
    return this.address;
  }

  // most routes never look at the signal: the AbortController is made only when one does
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.aborted) this.controller.abort();
    return this.controller.signal;
  }

  /** uWS's onAborted: the client went away; `res` is never touched again */
  abort(): void {
    this.done = true;
    this.aborted = true;
    this.controller?.abort();
  }

  /** `closeConnection`: end the connection after this response even if the client would keep it */
  finish(response: HttpResponse, closeConnection = false): void {
    if (this.done) return;
    this.done = true;
    const closing = closeConnection && this.requested === 'keep-alive' ? 'close' : this.requested;
    this.res.cork(() => writeResponse(this.res, response, this.method === 'HEAD', closing));
    this.options.onResponse?.(this, response, performance.now() - this.started);
  }

  run(): void {
    let result: HttpResponse | Promise<HttpResponse>;
    try {
      result = this.options.handle(this);
    } catch (err) {
      this.finish(this.options.onError(err, this));
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (response) => this.finish(response),
        (err: unknown) => this.finish(this.options.onError(err, this)),
      );
    } else {
      this.finish(result);
    }
  }

  /** uWS's onData: a chunk of the body; the last one runs the route */
  receive(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.done) return;
    this.size += chunk.byteLength;
    if (this.size > this.options.maxBodyBytes) {
      this.finish(this.options.refuse(413), true);
      return;
    }
    // the ArrayBuffer is neutered after this callback: copy it, into Node's pooled memory (a body
    // is small) rather than an ArrayBuffer of its own per request, which the GC must finalize
    const copy = Buffer.from(new Uint8Array(chunk));
    if (isLast && this.chunks === undefined) {
      this.body = copy;
      this.run();
      return;
    }
    (this.chunks ??= []).push(copy);
    if (isLast) {
      this.body = Buffer.concat(this.chunks, this.size);
      this.run();
    }
  }
}

export function startServer(options: ServerOptions): Promise<RunningServer> {
  const uws = loadUws(options.allowFallback);
  const app = uws.App();

  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const url = req.getUrl();
    const rawQuery = req.getQuery() ?? '';
    const exchange = new UwsExchange(res, req, options, method, url, rawQuery);
    res.onAborted(() => exchange.abort());

    if (url.length + rawQuery.length > options.maxUrlBytes) {
      exchange.finish(options.refuse(414), BODY_METHODS.has(method));
      return;
    }
    if (!BODY_METHODS.has(method)) {
      exchange.run();
      return;
    }
    const declared = Number(exchange.headers['content-length'] || 0);
    if (declared > options.maxBodyBytes) {
      // refuse without reading: the connection closes, so the unread body cannot confuse the next request
      exchange.finish(options.refuse(413), true);
      return;
    }
    res.onData((chunk, isLast) => exchange.receive(chunk, isLast));
  });

  if (options.websocket) {
    const { route, perAddress, maxBufferedBytes } = options.websocket;
    interface SocketData {
      query: URLSearchParams;
      address: string;
      /** whether this socket holds one of its address's connections (released at close) */
      counted: boolean;
      connection?: SocketConnection;
      markClosed?: () => void;
    }
    app.ws<SocketData>(route.path, {
      maxPayloadLength: 4 * 1024,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      // past the limit uWS drops a message for that socket (publish and send alike); closing it
      // instead frees its buffer and tells the client to reconnect rather than miss pushes silently
      maxBackpressure: maxBufferedBytes,
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) => {
        const query = new URLSearchParams(req.getQuery() ?? '');
        const key = req.getHeader('sec-websocket-key');
        const protocol = req.getHeader('sec-websocket-protocol');
        const extensions = req.getHeader('sec-websocket-extensions');
        const closing = requestedClosing(req.getHeader('connection'));
        const address = Buffer.from(res.getRemoteAddressAsText()).toString();
        let refusal: HttpResponse | null = null;
        try {
          refusal = route.accept?.(query) ?? null;
        } catch (err) {
          console.error('websocket upgrade failed:', err);
          refusal = options.refuse(500);
        }
        // the count is taken when the socket opens (a refused or abandoned handshake holds nothing);
        // checking here answers most refusals with a proper 429
        if (refusal === null && !perAddress.hasRoom(address)) refusal = options.refuse(429);
        if (refusal !== null) {
          writeResponse(res, refusal, false, closing);
          return;
        }
        res.upgrade<SocketData>({ query, address, counted: false }, key, protocol, extensions, context);
      },
      open: (ws) => {
        const data = ws.getUserData();
        // upgrades from one address that raced past the check on several threads: only the limit stays
        if (!perAddress.tryAdd(data.address)) {
          ws.end(1013, 'too many connections from this address');
          return;
        }
        data.counted = true;
        let open = true;
        const connection: SocketConnection = {
          subscribe: (topic) => open && ws.subscribe(topic),
          unsubscribe: (topic) => open && ws.unsubscribe(topic),
          send: (text) => {
            if (open) ws.send(text);
          },
          close: (code = 1000, reason = '') => {
            if (open) ws.end(code, reason);
          },
        };
        data.connection = connection;
        // after close the socket must not be used: this flag makes every later call a no-op
        data.markClosed = () => {
          open = false;
        };
        guard(() => route.onOpen(connection, data.query));
      },
      message: (ws, message) => {
        const text = Buffer.from(message).toString('utf8');
        const connection = ws.getUserData().connection;
        if (connection) guard(() => route.onMessage(connection, text));
      },
      close: (ws) => {
        const data = ws.getUserData();
        if (data.counted) perAddress.remove(data.address);
        data.markClosed?.();
        if (data.connection) guard(() => route.onClose?.(data.connection!));
      },
    });
  }

  return new Promise((resolve, reject) => {
    app.listen(options.host, options.port, (socket) => {
      if (!socket) {
        reject(new Error(`cannot listen on ${options.host}:${options.port}`));
        return;
      }
      resolve({
        port: uws.us_socket_local_port(socket as unknown as Uws.us_socket),
        publish: (topic, text) => {
          app.publish(topic, text);
        },
        subscribers: (topic) => app.numSubscribers(topic),
        close: () => uws.us_listen_socket_close(socket),
        closeConnections: () => {
          // App.close() is in this uWS build (20.30) but not yet in its type declarations
          (app as unknown as { close(): void }).close();
        },
      });
    });
  });
}

/** Run a route callback so that no exception escapes into uWS. */
function guard(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    console.error('websocket handler failed:', err);
  }
}
