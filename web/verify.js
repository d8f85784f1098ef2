/**
 * /verify: checks a SMART Health Card in the browser, with nothing but WebCrypto (ECDSA P-256 over
 * the compact JWS) and DecompressionStream (the raw-DEFLATE payload). The issuer's keys and
 * revocation lists are fetched when the page loads and kept in localStorage, so verifying works
 * with no network afterwards (the last lists fetched are then the ones checked, and the page says
 * how old they are). Input: the camera (where the browser has BarcodeDetector), a photo of the QR
 * code, or pasted text (`shc:/…` or the JWS).
 */
const config = JSON.parse(document.getElementById('teeka-config').textContent);
const STORE = 'teeka.verify.trust';
const $ = (id) => document.getElementById(id);

let trust = null;

/** The issuer's keys and each key's revocation list: fetched, else the copy from the last visit. */
async function loadTrust() {
  try {
    const jwks = await (await fetch('/.well-known/jwks.json', { cache: 'no-cache' })).json();
    const crls = {};
    for (const key of jwks.keys) {
      if (key.crlVersion !== undefined) crls[key.kid] = await (await fetch(`/.well-known/crl/${key.kid}.json`, { cache: 'no-cache' })).json();
    }
    const fresh = { issuer: config.issuer, keys: jwks.keys, crls, fetchedAt: Date.now() };
    localStorage.setItem(STORE, JSON.stringify(fresh));
    return fresh;
  } catch {
    const kept = JSON.parse(localStorage.getItem(STORE) ?? 'null');
    return kept && kept.issuer === config.issuer ? kept : null;
  }
}

function showTrust() {
  if (!trust) {
    $('trust').textContent = "The issuer's keys could not be loaded: connect once to verify certificates.";
    return;
  }
  const when = new Date(trust.fetchedAt).toLocaleString();
  $('trust').textContent = `Ready: ${trust.keys.length} issuer key${trust.keys.length === 1 ? '' : 's'} of ${trust.issuer}, revocation lists as of ${when}. Works offline.`;
}

const base64url = (text) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=')), (c) => c.charCodeAt(0));

async function inflateRaw(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** `shc:/` and pairs of digits back to the JWS; anything else is taken as the JWS itself. */
function jwsFromText(text) {
  const trimmed = text.trim();
  if (!trimmed.startsWith('shc:/')) return trimmed;
  const digits = trimmed.slice(5);
  if (!/^(\d\d)+$/.test(digits)) throw new Error('not a single SMART Health Card QR code');
  return digits.match(/\d\d/g).map((pair) => String.fromCharCode(Number(pair) + 45)).join('');
}

const VACCINES = config.vaccinesByCvx;

function summary(payload) {
  const entries = payload?.vc?.credentialSubject?.fhirBundle?.entry ?? [];
  const patient = entries.find((e) => e.resource?.resourceType === 'Patient')?.resource ?? {};
  const immunization = entries.find((e) => e.resource?.resourceType === 'Immunization')?.resource ?? {};
  const cvx = immunization.vaccineCode?.coding?.[0]?.code ?? '';
  const dose = immunization.protocolApplied?.[0] ?? {};
  return [
    ['Name', patient.name?.[0]?.text ?? ''],
    ['Year of birth', patient.birthDate ?? ''],
    ['Photo ID', `${patient.identifier?.[0]?.type?.coding?.[0]?.code ?? ''} ${patient.identifier?.[0]?.value ?? ''}`.trim()],
    ['Vaccine', VACCINES[cvx] ?? `CVX ${cvx}`],
    ['Dose', `${dose.doseNumberPositiveInt ?? '?'} of ${dose.seriesDosesPositiveInt ?? '?'}`],
    ['Date', immunization.occurrenceDateTime ?? ''],
    ['Vaccinated at', immunization.performer?.[0]?.actor?.display ?? ''],
    ['Certificate ID', immunization.identifier?.[0]?.value ?? ''],
  ];
}

function revoked(list, rid, nbf) {
  if (!list || !rid) return false;
  return list.rids.some((entry) => {
    const [id, until] = entry.split('.');
    return id === rid && (until === undefined || nbf < Number(until));
  });
}

/** { verdict: 'valid' | 'invalid' | 'revoked', reason, facts } */
async function verify(jws) {
  const parts = jws.split('.');
  if (parts.length !== 3) return { verdict: 'invalid', reason: 'This is not a signed health card.' };
  let header;
  let payload;
  try {
    header = JSON.parse(new TextDecoder().decode(base64url(parts[0])));
    payload = JSON.parse(new TextDecoder().decode(await inflateRaw(base64url(parts[1]))));
  } catch {
    return { verdict: 'invalid', reason: 'The card cannot be read: it is damaged or not a SMART Health Card.' };
  }
  const facts = summary(payload);
  if (header.alg !== 'ES256' || header.zip !== 'DEF') return { verdict: 'invalid', reason: 'Not a SMART Health Card.', facts };
  if (payload.iss !== trust.issuer) return { verdict: 'invalid', reason: `Issued by ${payload.iss}, not by ${trust.issuer}.`, facts };
  const jwk = trust.keys.find((k) => k.kid === header.kid);
  if (!jwk) return { verdict: 'invalid', reason: 'The issuer publishes no such key (unknown or retired).', facts };
  const key = await crypto.subtle.importKey('jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  const good = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, base64url(parts[2]), new TextEncoder().encode(`${parts[0]}.${parts[1]}`));
  if (!good) return { verdict: 'invalid', reason: 'The signature does not match: the card was altered or not signed by this issuer.', facts };
  if (jwk.crlVersion !== undefined && revoked(trust.crls[jwk.kid], payload.vc?.rid, payload.nbf)) {
    return { verdict: 'revoked', reason: 'The issuer revoked this certificate.', facts };
  }
  return { verdict: 'valid', reason: `Signed by ${trust.issuer}.`, facts };
}

const VERDICT_TITLES = { valid: 'Valid certificate', invalid: 'Not a valid certificate', revoked: 'Revoked certificate' };

function show(result) {
  const section = $('result');
  section.hidden = false;
  section.dataset.verdict = result.verdict;
  $('verdict').textContent = VERDICT_TITLES[result.verdict];
  $('reason').textContent = result.reason;
  const holder = $('holder');
  holder.replaceChildren();
  for (const [label, value] of result.facts ?? []) {
    const wrap = document.createElement('div');
    const dt = document.createElement('dt');
    const dd = document.createElement('dd');
    dt.textContent = label;
    dd.textContent = result.verdict === 'invalid' ? `${value} (unverified)` : value;
    wrap.append(dt, dd);
    holder.append(wrap);
  }
  section.scrollIntoView({ block: 'nearest' });
}

async function verifyText(text) {
  if (!trust) {
    show({ verdict: 'invalid', reason: "The issuer's keys are not loaded yet." });
    return;
  }
  try {
    show(await verify(jwsFromText(text)));
  } catch (err) {
    show({ verdict: 'invalid', reason: err.message });
  }
}

/** The text of the first QR code in an image: BarcodeDetector where the browser has it, else jsQR. */
async function qrTextOf(bitmap) {
  if ('BarcodeDetector' in window) {
    const found = await new BarcodeDetector({ formats: ['qr_code'] }).detect(bitmap);
    if (found.length) return found[0].rawValue;
  }
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext('2d');
  context.drawImage(bitmap, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  return window.jsQR?.(pixels.data, pixels.width, pixels.height)?.data ?? null;
}

$('paste-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void verifyText($('certificate-text').value);
});

$('photo').addEventListener('change', async () => {
  const file = $('photo').files[0];
  if (!file) return;
  const text = await qrTextOf(await createImageBitmap(file));
  if (text) await verifyText(text);
  else show({ verdict: 'invalid', reason: 'No QR code was found in that photo.' });
});

if ('BarcodeDetector' in window && navigator.mediaDevices?.getUserMedia) {
  $('scan').hidden = false;
  $('scan').addEventListener('click', async () => {
    const video = $('camera');
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const detector = new BarcodeDetector({ formats: ['qr_code'] });
    const look = async () => {
      const found = await detector.detect(video).catch(() => []);
      if (found.length) {
        stream.getTracks().forEach((t) => t.stop());
        video.hidden = true;
        await verifyText(found[0].rawValue);
      } else requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
  });
}

trust = await loadTrust();
showTrust();
