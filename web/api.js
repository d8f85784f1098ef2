// The gateway's HTTP API as the pages call it, and a human sentence for every error code it answers
// (engine/status.ts lists them). Pages show `error.message`; they branch on `error.code`.

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the gateway could not be reached)
   * @param {string} code CoWIN-style error code, e.g. APPOIN0040
   * @param {string} message what to tell the person
   * @param {number | null} retryAfterSeconds from Retry-After, when waiting helps
   */
  constructor(status, code, message, retryAfterSeconds = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const inSeconds = (seconds) => (seconds ? ` Please try again in ${seconds} second${seconds === 1 ? '' : 's'}.` : ' Please try again in a little while.');

/**
 * code → message. A function receives the server's own text (some codes carry a detail, e.g. which
 * field was wrong or which beneficiary) and the Retry-After seconds.
 */
const MESSAGES = {
  // login and quotas
  USRAUT0001: 'Your session has ended: it expired, or this number logged in on another device. Please log in again.',
  USRAUT0002: 'That key was not accepted. Check it and try again.',
  USRAUT0003: 'This sign-in is not allowed to see this page.',
  USRAUT0012: 'Please enter the OTP.',
  USRAUT0013: 'The OTP request was lost. Please ask for a new OTP.',
  USRAUT0014: 'That OTP is not correct, or it has expired. Check the SMS and try again, or ask for a new OTP.',
  USRAUT0015: (_text, retry) => `An OTP was sent to this number recently. You can ask for a new one when it expires.${inSeconds(retry)}`,
  USRAUT0016: (_text, retry) => `Too many OTPs were asked for this number from your network today.${inSeconds(retry)}`,
  USRAUT0017: (_text, retry) => `Too many OTPs were asked for from your network.${inSeconds(retry)}`,
  USRAUT0018: (_text, retry) => `Many people are logging in right now.${inSeconds(retry)}`,
  USRAUT0030: 'You searched too many times in a short while, so you were logged out to keep the service fair for everyone. Searching works again when the search window that began with the first of those searches ends.',
  USRAUT0031: 'This account is blocked for a day because of too many searches. Searching works again after the block ends.',
  USRRES0429: (_text, retry) => `Too many requests from your network.${inSeconds(retry)}`,
  // booking
  APPOIN0011: 'This session no longer exists. Please search again.',
  APPOIN0012: 'Booking for this session has not opened yet. Please try again when it opens.',
  APPOIN0013: 'Booking for this session has closed. Please choose another date.',
  APPOIN0015: 'That time slot is not offered by this session. Please choose one of the listed slots.',
  APPOIN0016: 'That dose cannot be booked.',
  APPOIN0018: 'Please enter a valid PIN code.',
  APPOIN0019: 'Please choose a valid date.',
  APPOIN0020: 'One of the chosen beneficiaries was not found on this account. Please reload the page.',
  APPOIN0021: 'The same beneficiary was chosen twice.',
  APPOIN0022: (text) => `A chosen beneficiary is outside the age limit of this session. ${beneficiaryOf(text)}`,
  APPOIN0023: (text) => `It is too early for the next dose: the minimum interval since the previous dose has not passed on this date. ${beneficiaryOf(text)}`,
  APPOIN0024: (text) => `The previous dose is not recorded for a chosen beneficiary. ${beneficiaryOf(text)}`,
  APPOIN0025: (text) => `This session offers a different vaccine from the previous dose. ${beneficiaryOf(text)}`,
  APPOIN0026: (text) => `A chosen beneficiary already has an appointment for this dose. ${beneficiaryOf(text)}`,
  APPOIN0027: (text) => `A chosen beneficiary has already received this dose. ${beneficiaryOf(text)}`,
  APPOIN0028: 'This booking request was already used for a different booking. Please start again.',
  APPOIN0030: 'This appointment was not found.',
  APPOIN0031: 'This appointment is cancelled or already completed.',
  APPOIN0032: 'Appointments can only be changed before the appointment day.',
  APPOIN0033: 'That is the same centre and slot as the current appointment. Please choose another one.',
  APPOIN0034: 'The appointment changed while this request ran. Please try again.',
  APPOIN0040: 'This slot is fully booked. Please choose another slot, date or centre.',
  APPOIN0044: 'The security code does not match. Please type the characters in the new picture.',
  // beneficiaries
  BENREG0010: 'This account already has the maximum number of beneficiaries.',
  BENREG0011: 'A beneficiary with this photo ID is already registered.',
  BENREG0012: 'A beneficiary with an appointment or a recorded dose cannot be deleted.',
  BENREG0013: 'The photo ID number does not match the format of the chosen ID type.',
  // anything
  GENVAL0001: (text) => `The request was refused: ${text}`,
  GENVAL0413: 'The request was too large.',
  GENVAL0414: 'The request was too long.',
  GENRES0404: 'Not found.',
  GENRES0405: 'This action is not available.',
  GENSRV0500: 'Something went wrong on our side. Please try again.',
  GENSRV0503: (_text, retry) => `The service is busy or briefly unavailable.${inSeconds(retry)}`,
};

/** "(beneficiary 12345678901234)" at the end of a booking refusal names who it is about. */
function beneficiaryOf(text) {
  const id = /\(beneficiary (\d+)\)/.exec(text)?.[1];
  return id ? `(Reference ID ${id}.)` : '';
}

/** The sentence to show for an error body. */
export function messageFor(code, text = '', retryAfterSeconds = null) {
  const message = MESSAGES[code];
  if (typeof message === 'function') return message(text, retryAfterSeconds).trim();
  if (message) return message;
  return text ? `The request was refused: ${text}` : 'Something went wrong. Please try again.';
}

/**
 * Call the API. Resolves with `{ json, headers }` (json is null for 204) or, with `binary`,
 * `{ blob, headers }`; rejects with an ApiError carrying the code and message.
 */
export async function callApi(method, path, { token, body, headers = {}, binary = false, signal, cacheable = false } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      // master data says how long it may be kept (public, max-age); everything else is live
      cache: cacheable ? 'default' : 'no-store',
    });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', 'The service could not be reached. Check your connection and try again.');
  }
  if (response.ok) {
    if (binary) return { blob: await response.blob(), headers: response.headers };
    if (response.status === 204) return { json: null, headers: response.headers };
    return { json: await response.json(), headers: response.headers };
  }
  const retryAfter = Number(response.headers.get('retry-after')) || null;
  let code = `HTTP${response.status}`;
  let text = '';
  try {
    const error = await response.json();
    code = String(error.errorCode ?? code);
    text = String(error.error ?? '');
  } catch {
    // not a JSON error body (a proxy's page): the status says enough
  }
  throw new ApiError(response.status, code, messageFor(code, text, retryAfter), retryAfter);
}

/** Put a message into a status element; an empty message hides it. */
export function show(element, message, kind = 'info') {
  element.textContent = message;
  element.dataset.kind = kind;
  element.hidden = !message;
}
