/**
 * The web pages: the citizen's booking page (`/`), the operator's dashboard (`/dashboard`) and the
 * certificate verifier (`/verify`), their scripts and styles from web/, and uPlot and jsQR from
 * node_modules.
 *
 * There is no build step: every file is read, compressed (brotli and gzip) and hashed once, when the
 * thread starts. Assets live under `/assets/<release>/<file>`, where the release is a hash of every
 * asset's bytes, so a browser may keep them for a year (`immutable`) and a deploy changes every URL;
 * the modules import each other by relative path, which stays inside the same release. The two
 * HTML pages are `no-cache` with an ETag, so a returning browser asks and usually gets a 304.
 *
 * The pages are not the API: when web/ is missing (an image built without it) the gateway still
 * serves the API and answers the page URLs with a 503 that says what is missing.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { projectRoot, testMobilesOf } from '../../engine/config.js';
import { vaccineNamesByCvx } from '../../engine/health-card.js';
import { REQUEST_ERRORS } from '../../engine/status.js';
import type { GatewayContext } from '../context.js';
import { languageFile, pageText } from '../i18n.js';
import { apiError, type HttpRequest, type HttpResponse, type Router } from '../http.js';

const require = createRequire(import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
};

/** The files under web/ served as assets (the HTML pages are templates, served by their own routes). */
const WEB_ASSETS = ['citizen.js', 'fair-queue.js', 'dashboard.js', 'api.js', 'language.js', 'forms.js', 'availability-feed.js', 'sha256.js', 'teeka.css', 'icon.svg', 'verify.js'];

/**
 * Scripts, styles, fetches and images only from this origin, plus `data:` images (the booking
 * captcha is an SVG shown as a data: URL, never inserted as markup). 'self' in connect-src also
 * covers ws:// to the same host and port (CSP Level 3), which the live availability socket uses.
 */
const PAGE_SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

/** One file as served: its bytes in each encoding, and the validator of its uncompressed bytes. */
interface ServedFile {
  contentType: string;
  identity: Buffer;
  br: Buffer;
  gzip: Buffer;
  etag: string;
}

function servedFile(name: string, bytes: Buffer): ServedFile {
  const contentType = CONTENT_TYPES[extname(name)] ?? 'application/octet-stream';
  return {
    contentType,
    identity: bytes,
    br: brotliCompressSync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length } }),
    gzip: gzipSync(bytes, { level: 9 }),
    etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"`,
  };
}

/** The encoding to send for an Accept-Encoding header: brotli, else gzip, else none (a `q=0` refuses). */
export function pickEncoding(acceptEncoding: string): 'br' | 'gzip' | 'identity' {
  const accepted = new Set<string>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [token, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (token && (q === undefined || Number(q.slice(2)) > 0)) accepted.add(token.trim());
  }
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip')) return 'gzip';
  return 'identity';
}

/** Whether an If-None-Match header (a list, possibly weak validators or `*`) matches the ETag. */
function matchesEtag(ifNoneMatch: string, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

function respond(request: HttpRequest, file: ServedFile, cacheControl: string, extra: Record<string, string> = {}): HttpResponse {
  const encoding = pickEncoding(request.headers['accept-encoding']);
  // each encoding is its own representation, so each gets its own strong validator
  const etag = encoding === 'identity' ? file.etag : `${file.etag.slice(0, -1)}-${encoding}"`;
  const headers: Record<string, string> = { etag, 'cache-control': cacheControl, vary: 'accept-encoding', ...extra };
  if (matchesEtag(request.headers['if-none-match'], etag)) return { status: 304, headers };
  headers['content-type'] = file.contentType;
  if (encoding !== 'identity') headers['content-encoding'] = encoding;
  return { status: 200, headers, body: encoding === 'br' ? file.br : encoding === 'gzip' ? file.gzip : file.identity };
}

/**
 * What both pages need for their words and formats: the country's languages (each named in itself,
 * from its file), and the country, time zone and currency Intl formats for (web/language.js).
 */
function languageConfig(ctx: GatewayContext) {
  const { country } = ctx;
  return {
    languages: country.languages.map((code) => {
      const name = (languageFile(code)?.language as { name?: string } | undefined)?.name;
      return { code, name: typeof name === 'string' ? name : code };
    }),
    countryCode: country.data.country.code,
    timeZone: country.timeZone,
    currency: country.data.country.currency ?? null,
  };
}

/** What the citizen page needs to know about this deployment: the country's rules, not code. */
function citizenPageConfig(ctx: GatewayContext) {
  const { country, config } = ctx;
  const rules = country.rules;
  const testMobiles = testMobilesOf(config, country);
  return {
    ...languageConfig(ctx),
    countryName: country.data.country.name,
    mobile: {
      countryCode: rules.mobile.country_code,
      digits: rules.mobile.digits,
      // the server's rule (validation.ts), so the page refuses exactly what the API would
      pattern: `^(?=[0-9]{${rules.mobile.digits}}$)(?:${rules.mobile.pattern ?? '[0-9]+'})$`,
      format: country.mobile.format,
    },
    // the words for the administrative levels, shown on labels and in messages
    adminLevels: country.data.country.admin_levels,
    searchByPincode: rules.search_by_pincode,
    otpLength: rules.otp.length,
    otpResendSeconds: rules.otp.resend_after_seconds,
    searchQuota: {
      perWindow: rules.search_quota.max_per_window,
      windowMinutes: Math.round(rules.search_quota.window_seconds / 60),
      perDay: rules.search_quota.max_per_day,
      blockHours: Math.round(rules.search_quota.block_seconds / 3600),
    },
    beneficiariesPerAccount: rules.beneficiaries_per_account,
    calendarDays: rules.calendar_days,
    // each vaccine's schedule: which dose comes next, and from when (the engine's intervals)
    vaccines: country.data.vaccines.map((v) => ({
      name: v.name,
      doses: v.doses,
      dose2AfterDays: v.dose2_after_days ?? null,
      precautionAfterDays: v.precaution_after_days ?? null,
    })),
    captchaRequired: config.captchaRequired,
    // only a demo deployment has test numbers; telling visitors how to use them is the point of a demo
    demoLogin: testMobiles,
  };
}

/** JSON safe inside an HTML <script> data block: no `<` can close the element. */
const jsonForHtml = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export function pageRoutes(router: Router, ctx: GatewayContext): void {
  const webDir = join(projectRoot(), 'web');
  const uplotDir = dirname(require.resolve('uplot'));
  const sources: [name: string, path: string][] = [
    ...WEB_ASSETS.map((name): [string, string] => [name, join(webDir, name)]),
    ['uPlot.iife.min.js', join(uplotDir, 'uPlot.iife.min.js')],
    ['uPlot.min.css', join(uplotDir, 'uPlot.min.css')],
    // the /verify page reads QR codes in photos with it where the browser has no BarcodeDetector
    ['jsQR.js', require.resolve('jsqr')],
  ];
  const pages = [
    { path: '/', template: join(webDir, 'index.html'), config: citizenPageConfig(ctx) },
    { path: '/dashboard', template: join(webDir, 'dashboard.html'), config: languageConfig(ctx) },
    { path: '/verify', template: join(webDir, 'verify.html'), config: { issuer: ctx.config.certIssuer, vaccinesByCvx: vaccineNamesByCvx(ctx.country.data.vaccines) } },
  ];

  const missing = [...sources.map(([, path]) => path), ...pages.map((p) => p.template)].filter((path) => !existsSync(path));
  if (missing.length) {
    console.warn(`gateway: web pages disabled, missing ${missing.join(', ')}`);
    const unavailable = () =>
      apiError({ httpStatus: 503, errorCode: 'GENSRV0503', error: `The web pages are not installed on this gateway (missing ${missing.length} file(s) of web/)` });
    for (const page of pages) router.get(page.path, unavailable);
    router.get('/assets/:release/:file', unavailable);
    return;
  }

  const assets = new Map<string, ServedFile>();
  const release = createHash('sha256');
  for (const [name, path] of sources) {
    const bytes = readFileSync(path);
    assets.set(name, servedFile(name, bytes));
    release.update(name).update(bytes);
  }
  // the pages' words, one file per language of the country (web/i18n/, English filling any gap)
  for (const language of ctx.country.languages) {
    const name = `i18n-${language}.json`;
    const bytes = Buffer.from(JSON.stringify(pageText(language)));
    assets.set(name, servedFile(name, bytes));
    release.update(name).update(bytes);
  }
  const releaseId = release.digest('hex').slice(0, 12);
  const assetBase = `/assets/${releaseId}`;

  for (const page of pages) {
    const html = readFileSync(page.template, 'utf8')
      .replaceAll('{{assets}}', assetBase)
      .replace('{{config}}', jsonForHtml(page.config));
    const file = servedFile('page.html', Buffer.from(html));
    // a returning browser revalidates the page and gets a 304 until a deploy changes it
    router.get(page.path, (request) => respond(request, file, 'no-cache', PAGE_SECURITY_HEADERS));
  }

  router.get('/assets/:release/:file', (request) => {
    const file = assets.get(request.params.file!);
    if (!file) return apiError(REQUEST_ERRORS.notFound());
    // a page of another release (cached before a deploy) still gets the file, but must revalidate it
    const current = request.params.release === releaseId;
    return respond(request, file, current ? 'public, max-age=31536000, immutable' : 'no-cache');
  });
}
