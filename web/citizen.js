// The citizen's booking page: OTP login, beneficiaries, the 7-day calendar search with CoWIN's
// filters, capacities kept live by the availability WebSocket, booking, rescheduling, cancelling
// and the appointment slip. Plain DOM code: the page is small and must load fast on a phone.
// Every word is the language file's (web/language.js); every number, date and fee goes through Intl.
import { ApiError, callApi, messageFor, setBeneficiaryNames, show } from './api.js';
import { AvailabilityFeed } from './availability-feed.js';
import { admissionExpiry, FairQueues } from './fair-queue.js';
import { isUnavailable, reportProblems, setBusy, setFieldError } from './forms.js';
import { formatDay, formatMoney, formatNumber, formatTime, has, loadLanguage, setupSwitcher, t } from './language.js';
import { sha256Hex } from './sha256.js';

const config = JSON.parse(document.getElementById('teeka-config').textContent);
// the words first: everything below may use them, some while this module is evaluated
await loadLanguage(config);
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'teeka.citizen.token';
const MOBILE_KEY = 'teeka.citizen.mobile';
const DAY_MS = 86_400_000;
/** How long before the login ends the page warns (the token's `exp`); CoWIN has no way to extend it. */
const EXPIRY_WARNING_MS = 2 * 60_000;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  txnId: null,
  beneficiaries: [],
  /** session_id → { session, center } of the last search */
  sessions: new Map(),
  /** the last search: { centers, fromDay, label } */
  search: null,
  /** searches left in the quota window, from the last search's X-RateLimit-Remaining (null: not known) */
  searchesLeft: null,
  /** set while the citizen picks a new slot for an existing appointment */
  reschedule: null,
  /**
   * the session the booking dialog is open for, the idempotency key of this booking attempt, and its
   * mode: 'book', 'join' (a session under fair admission: the dialog joins its queue) or 'admitted'
   * (the citizen's turn came: the booking carries the admission)
   */
  booking: null,
  statesList: null,
  districtsByState: new Map(),
  genders: null,
  idTypes: null,
};

// ------------------------------------------------------------------ dates (the country's calendar)

/** Today as an epoch day in the country's time zone (the engine's calendar, not the browser's). */
function todayDay() {
  const iso = new Intl.DateTimeFormat('en-CA', { timeZone: config.timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  return isoToDay(iso);
}
const isoToDay = (iso) => {
  const [y, m, d] = iso.split('-').map(Number);
  return Date.UTC(y, m - 1, d) / DAY_MS;
};
const dayToIso = (day) => new Date(day * DAY_MS).toISOString().slice(0, 10);
const dayToCowin = (day) => dayToIso(day).split('-').reverse().join('-');
const cowinToDay = (text) => isoToDay(text.split('-').reverse().join('-'));
const yearOfDay = (day) => new Date(day * DAY_MS).getUTCFullYear();
const dayLabel = (day) => formatDay(day);
const longDayLabel = (day) => formatDay(day, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const shortDate = (day) => formatDay(day, { day: 'numeric', month: 'short', year: 'numeric' });

// ------------------------------------------------------------------ small DOM helpers

/** Create an element: el('p', { className: 'x', text: 'hi' }, child, …) */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'text') node.textContent = value;
    else if (key === 'className') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}
const hiddenText = (text) => el('span', { className: 'visually-hidden', text });

const maskMobile = (mobile) => (mobile ? `${'•'.repeat(Math.max(0, mobile.length - 4))}${mobile.slice(-4)}` : '');

function newIdempotencyKey() {
  // crypto.randomUUID needs a secure origin; getRandomValues does not
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The country's word for an administrative level ("State", "Region") in the page's language. */
const levelWord = (word) => (has(`levels.${word}`) ? t(`levels.${word}`) : word);
/** The same word inside a sentence ("choose a region"); scripts without case are left as they are. */
const levelInSentence = (word) => levelWord(word).toLocaleLowerCase();

// ------------------------------------------------------------------ API calls that need the login

/**
 * The refusals that end the login (the gateway deletes the login session for a quota logout and for
 * a block), and what to say about each, with this deployment's numbers.
 */
const LOGIN_ENDING = {
  USRAUT0001: () => messageFor('USRAUT0001'),
  USRAUT0030: () => {
    const q = config.searchQuota;
    return t('citizen.quotaLogout', { count: q.perWindow, minutes: formatNumber(q.windowMinutes) });
  },
  USRAUT0031: () => blockedMessage(),
};

function blockedMessage() {
  const q = config.searchQuota;
  return t('citizen.blocked', { hours: formatNumber(q.blockHours), perDay: formatNumber(q.perDay) });
}

/** A call with the citizen's token; a refusal that ends the login takes the page back to the login form. */
async function authed(method, path, options = {}) {
  try {
    return await callApi(method, path, { ...options, token: state.token });
  } catch (error) {
    if (error instanceof ApiError && LOGIN_ENDING[error.code]) {
      logout(LOGIN_ENDING[error.code]());
      error.loggedOut = true;
    }
    throw error;
  }
}

// ------------------------------------------------------------------ login

// the server's rule for the country's mobile numbers (rules.mobile in the country file)
const mobilePattern = new RegExp(config.mobile.pattern, 'u');
const otpPattern = new RegExp(`^\\d{${config.otpLength}}$`);
const mobileField = () => ({ input: $('mobile'), error: $('mobile-error') });
const otpField = () => ({ input: $('otp'), error: $('otp-error') });
let resendTimer = null;

/** Report problems with the login forms, the search form or the beneficiary form in the page's summary. */
const pageProblems = (problems, fields) => reportProblems($('error-summary'), problems, fields);

function setupLogin() {
  $('mobile').maxLength = config.mobile.digits;
  $('mobile-country-code').textContent = `+${config.mobile.countryCode}`;
  $('mobile-hint').textContent = t('citizen.mobileHint', { format: config.mobile.format, code: config.mobile.countryCode });
  if (config.demoLogin) {
    $('mobile-hint').textContent += ` ${t('citizen.demoHint', { prefix: config.demoLogin.prefix, otp: config.demoLogin.otp })}`;
  }
  $('otp').maxLength = config.otpLength;
  $('otp-hint').textContent = t('citizen.otpHint', { count: config.otpLength });
  $('footer-country').textContent = config.countryName;

  $('mobile-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = event.submitter ?? $('mobile-form').querySelector('[type=submit]');
    if (isUnavailable(button)) return;
    const mobile = $('mobile').value.replace(/\s+/g, '');
    if (!mobilePattern.test(mobile)) {
      pageProblems([{ ...mobileField(), message: t('citizen.mobileInvalid', { format: config.mobile.format }) }], [mobileField()]);
      return;
    }
    pageProblems([], [mobileField()]);
    setBusy(button, true);
    try {
      await requestOtp(mobile);
    } finally {
      setBusy(button, false);
    }
  });

  $('otp-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = event.submitter ?? $('otp-form').querySelector('[type=submit]');
    if (isUnavailable(button)) return;
    const otp = $('otp').value.trim();
    if (!otpPattern.test(otp)) {
      pageProblems([{ ...otpField(), message: t('citizen.otpInvalid', { count: config.otpLength }) }], [otpField()]);
      return;
    }
    pageProblems([], [otpField()]);
    setBusy(button, true);
    show($('login-status'), t('citizen.checkingOtp'));
    try {
      const { json } = await callApi('POST', '/api/v2/auth/validateMobileOtp', { body: { otp: await sha256Hex(otp), txnId: state.txnId } });
      state.token = json.token;
      sessionStorage.setItem(TOKEN_KEY, json.token);
      sessionStorage.setItem(MOBILE_KEY, $('mobile').value.trim());
      show($('login-status'), '');
      enterAccount({ justLoggedIn: true });
    } catch (error) {
      show($('login-status'), '');
      pageProblems([{ ...otpField(), message: error.message }], [otpField()]);
    } finally {
      setBusy(button, false);
    }
  });

  $('resend-otp').addEventListener('click', (event) => {
    if (!isUnavailable(event.currentTarget)) void requestOtp($('mobile').value.trim());
  });
  $('change-mobile').addEventListener('click', () => {
    pageProblems([], [otpField()]);
    $('otp-form').hidden = true;
    $('mobile-form').hidden = false;
    $('mobile').focus();
  });
  $('logout').addEventListener('click', () => logout(t('citizen.loggedOut'), 'info'));
}

async function requestOtp(mobile) {
  show($('login-status'), t('citizen.sendingOtp'));
  show($('login-reason'), '');
  try {
    const { json } = await callApi('POST', '/api/v2/auth/generateMobileOTP', { body: { mobile } });
    state.txnId = json.txnId;
    show($('login-status'), '');
    $('mobile-form').hidden = true;
    $('otp-form').hidden = false;
    $('otp').value = '';
    pageProblems([], [otpField(), mobileField()]);
    $('otp-sent').textContent = t('citizen.otpSent', { mobile: maskMobile(mobile) });
    startResendCountdown(config.otpResendSeconds);
    $('otp').focus();
  } catch (error) {
    show($('login-status'), '');
    const field = $('otp-form').hidden ? mobileField() : otpField();
    pageProblems([{ ...field, message: error.code === 'USRAUT0031' ? blockedMessage() : error.message }], [field]);
    if (error.code === 'USRAUT0015' && error.retryAfterSeconds) startResendCountdown(error.retryAfterSeconds);
  }
}

function startResendCountdown(seconds) {
  clearInterval(resendTimer);
  const button = $('resend-otp');
  let left = seconds;
  const tick = () => {
    // aria-disabled while counting down: a focused button keeps the focus and says why it waits
    if (left > 0) button.setAttribute('aria-disabled', 'true');
    else button.removeAttribute('aria-disabled');
    button.textContent = left > 0 ? t('citizen.resendOtpIn', { seconds: formatNumber(left) }) : t('citizen.resendOtp');
    left -= 1;
    if (left < -1) clearInterval(resendTimer);
  };
  tick();
  resendTimer = setInterval(tick, 1000);
}

let expiryTimer = null;
let expiryWarningTimer = null;

/** Show the account; on a fresh login move focus to it so a screen reader follows. */
function enterAccount({ justLoggedIn = false } = {}) {
  $('login').hidden = true;
  $('account').hidden = false;
  $('signed-in').hidden = false;
  $('error-summary').hidden = true;
  $('signed-in-as').textContent = t('citizen.signedInAs', { mobile: maskMobile(sessionStorage.getItem(MOBILE_KEY) ?? '') });
  const today = todayDay();
  $('from-date').min = dayToIso(today);
  if (!$('from-date').value || isoToDay($('from-date').value) < today) $('from-date').value = dayToIso(today);
  showQuotaHint(null);
  watchExpiry();
  // the queues after the beneficiaries: a turn that came while away opens the dialog with their names
  void loadBeneficiaries().then(() => queues.start(state.token));
  void loadStates();
  if (justLoggedIn) $('beneficiaries-title').focus();
}

/**
 * The token says when it expires: warn a little before (time to finish a booking, or to decide to
 * log in again), and end the page's login then, with a reason, not at the next click.
 */
function watchExpiry() {
  clearTimeout(expiryTimer);
  clearTimeout(expiryWarningTimer);
  show($('expiry-warning'), '');
  const expiresAt = tokenExpiry(state.token);
  if (!expiresAt) return;
  const warnAt = expiresAt - EXPIRY_WARNING_MS;
  const warn = () => {
    const minutes = Math.max(1, Math.ceil((expiresAt - Date.now()) / 60_000));
    show($('expiry-warning'), t('citizen.expiryWarning', { time: formatTime(expiresAt), count: minutes }), 'warning');
  };
  if (warnAt <= Date.now()) warn();
  else expiryWarningTimer = setTimeout(warn, warnAt - Date.now());
  expiryTimer = setTimeout(() => logout(messageFor('USRAUT0001')), Math.max(0, expiresAt - Date.now()));
}

function tokenExpiry(token) {
  try {
    const payload = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    return typeof payload.exp === 'number' ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

function logout(reason, kind = 'error') {
  state.token = null;
  state.txnId = null;
  state.reschedule = null;
  state.searchesLeft = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(expiryTimer);
  clearTimeout(expiryWarningTimer);
  feed.stop();
  queues.stop();
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  $('account').hidden = true;
  $('signed-in').hidden = true;
  $('error-summary').hidden = true;
  $('login').hidden = false;
  $('otp-form').hidden = true;
  $('mobile-form').hidden = false;
  $('mobile').value = sessionStorage.getItem(MOBILE_KEY) ?? '';
  $('beneficiary-list').replaceChildren();
  $('results').replaceChildren();
  state.sessions.clear();
  state.search = null;
  show($('search-status'), '');
  show($('login-reason'), reason, kind);
  $('mobile').focus();
}

// ------------------------------------------------------------------ beneficiaries and their eligibility

const vaccineSchedules = new Map(config.vaccines.map((v) => [v.name, v]));
const STATUS_KEYS = { 'Not Vaccinated': 'notVaccinated', 'Partially Vaccinated': 'partiallyVaccinated', Vaccinated: 'vaccinated' };

/**
 * The dose a beneficiary needs next, or null when they have them all: after the primary doses
 * (one for a single-dose vaccine) the precaution dose, where their vaccine has one.
 */
function nextDose(ben) {
  if (ben.vaccination_status === 'Not Vaccinated') return 1;
  if (ben.vaccination_status === 'Partially Vaccinated') return 2;
  const schedule = vaccineSchedules.get(ben.vaccine);
  return ben.precaution_dose_date || (schedule && schedule.precautionAfterDays === null) ? null : 3;
}
const doseName = (dose) => t(`citizen.doseName.${dose}`);
const dayOf = (cowinDate) => (cowinDate ? cowinToDay(cowinDate) : null);

/**
 * The first day `dose` may be given to `ben` (the engine's rule, lua/includes/eligibility.lua): dose 2
 * its vaccine's interval after dose 1, the precaution dose its interval after the last primary dose;
 * null for dose 1, or when the previous dose is not recorded.
 */
function dueDay(ben, dose) {
  const schedule = vaccineSchedules.get(ben.vaccine);
  if (dose === 1 || !schedule) return null;
  if (dose === 2) return dayOf(ben.dose1_date) === null ? null : dayOf(ben.dose1_date) + schedule.dose2AfterDays;
  const previous = dayOf(schedule.doses === 1 ? ben.dose1_date : ben.dose2_date);
  return previous === null || schedule.precautionAfterDays === null ? null : previous + schedule.precautionAfterDays;
}

/** The beneficiary's appointment for `dose`, if they have one. */
const appointmentFor = (ben, dose) => ben.appointments.find((a) => Number(a.dose) === dose);

/**
 * Whether `ben` can be booked at `session`, and if not why, in the order the engine checks: every
 * dose given, the session's age limits (age in the session's year), an appointment for the dose
 * already, another vaccine than the earlier doses, the interval since the previous dose.
 */
function eligibility(ben, session) {
  const dose = nextDose(ben);
  if (dose === null) return { dose, reason: t('citizen.ineligible.allDoses', { name: ben.name }) };
  const sessionDay = cowinToDay(session.date);
  const age = yearOfDay(sessionDay) - Number(ben.birth_year);
  const tooOld = session.max_age_limit !== undefined && !session.allow_all_age && age > session.max_age_limit;
  if (age < session.min_age_limit || tooOld) {
    return { dose, reason: t('citizen.ineligible.age', { name: ben.name, age: formatNumber(age), year: yearOfDay(sessionDay), limit: ageLabel(session) }) };
  }
  const booked = appointmentFor(ben, dose);
  if (booked) return { dose, reason: t('citizen.ineligible.booked', { name: ben.name, dose: doseName(dose), date: longDayLabel(cowinToDay(booked.date)) }) };
  if (dose > 1 && ben.vaccine && ben.vaccine !== session.vaccine) {
    return { dose, reason: t('citizen.ineligible.vaccine', { name: ben.name, dose: doseName(dose), vaccine: ben.vaccine, offered: session.vaccine }) };
  }
  const due = dueDay(ben, dose);
  if (due !== null && sessionDay < due) return { dose, reason: t('citizen.ineligible.notDue', { name: ben.name, dose: doseName(dose), date: longDayLabel(due) }) };
  return { dose, reason: null };
}

/** Beneficiaries who could be booked somewhere: they need a dose and have no appointment for it. */
function bookableBeneficiaries() {
  return state.beneficiaries.filter((ben) => {
    const dose = nextDose(ben);
    return dose !== null && !appointmentFor(ben, dose);
  });
}

async function loadBeneficiaries() {
  try {
    const { json } = await authed('GET', '/api/v2/appointment/beneficiaries');
    state.beneficiaries = json.beneficiaries;
    // refusals that name a beneficiary by reference id are told with the person's name
    setBeneficiaryNames(new Map(state.beneficiaries.map((b) => [b.beneficiary_reference_id, b.name])));
    renderBeneficiaries();
  } catch (error) {
    if (!error.loggedOut) show($('beneficiaries-status'), error.message, 'error');
  }
}

function renderBeneficiaries() {
  const list = $('beneficiary-list');
  const items = state.beneficiaries.map((ben) => {
    const dose = nextDose(ben);
    const due = dose === null || appointmentFor(ben, dose) ? null : dueDay(ben, dose);
    return el(
      'li',
      { className: 'beneficiary', dataset: { beneficiaryId: ben.beneficiary_reference_id } },
      el('h3', { id: `ben-${ben.beneficiary_reference_id}`, tabindex: '-1', text: ben.name }),
      el(
        'dl',
        { className: 'facts' },
        el('div', {}, el('dt', { text: t('citizen.referenceId') }), el('dd', { text: ben.beneficiary_reference_id })),
        el('div', {}, el('dt', { text: t('citizen.benBirthYear') }), el('dd', { text: ben.birth_year })),
        el('div', {}, el('dt', { text: t('citizen.benIdType') }), el('dd', { text: `${ben.photo_id_type} ${ben.photo_id_number}` })),
        el('div', {}, el('dt', { text: t('citizen.status') }), el('dd', { className: 'vaccination-status', text: vaccinationText(ben) })),
        due !== null
          ? el('div', { className: 'next-dose' }, el('dt', { text: t('citizen.nextDose') }), el('dd', { text: t('citizen.dueFrom', { dose: doseName(dose), date: longDayLabel(due) }) }))
          : null,
      ),
      ben.appointments.map((appointment) => renderAppointment(ben, appointment)),
      ben.appointments.length === 0 && ben.vaccination_status === 'Not Vaccinated'
        ? el('button', { type: 'button', className: 'link-button', text: t('citizen.deleteBeneficiary', { name: ben.name }), onclick: () => deleteBeneficiary(ben) })
        : null,
    );
  });
  list.replaceChildren(...items);
  const limitReached = state.beneficiaries.length >= config.beneficiariesPerAccount;
  $('beneficiary-limit').textContent = t(limitReached ? 'citizen.beneficiaryLimitReached' : 'citizen.beneficiaryLimit', { count: config.beneficiariesPerAccount });
  const submit = $('beneficiary-form').querySelector('[type=submit]');
  if (limitReached) submit.setAttribute('aria-disabled', 'true');
  else if (!submit.dataset.busy) submit.removeAttribute('aria-disabled');
  if (!state.beneficiaries.length) {
    show($('beneficiaries-status'), t('citizen.noBeneficiaries'));
    $('add-beneficiary').open = true;
  } else if ($('beneficiaries-status').dataset.kind === 'error') {
    show($('beneficiaries-status'), '');
  }
}

function vaccinationText(ben) {
  const status = t(`citizen.vaccinationStatus.${STATUS_KEYS[ben.vaccination_status] ?? 'notVaccinated'}`);
  const doses = [
    [1, ben.dose1_date],
    [2, ben.dose2_date],
    [3, ben.precaution_dose_date],
  ]
    .filter(([, date]) => date)
    .map(([dose, date]) => t('citizen.doseOn', { dose: doseName(dose), date: shortDate(cowinToDay(date)) }));
  return doses.length ? t('citizen.statusWithDoses', { status, vaccine: ben.vaccine, doses: doses.join(', ') }) : status;
}

function renderAppointment(ben, appointment) {
  const dose = Number(appointment.dose);
  const headingId = `appt-${appointment.appointment_id}-${ben.beneficiary_reference_id}`;
  return el(
    'section',
    { className: 'appointment', 'aria-labelledby': headingId, dataset: { appointmentId: appointment.appointment_id } },
    el('h4', { id: headingId, tabindex: '-1', text: t('citizen.appointmentFor', { dose: doseName(dose) }) }),
    el('p', { text: `${appointment.name}, ${appointment.district_name}, ${appointment.state_name}` }),
    el('p', { className: 'when', text: `${longDayLabel(cowinToDay(appointment.date))}, ${appointment.slot}` }),
    el('p', { className: 'appointment-id' }, `${t('citizen.appointmentId')} `, el('code', { text: appointment.appointment_id })),
    // from the beneficiaries list (not the booking's answer), so it is still here after a reload
    appointment.security_code
      ? el(
          'div',
          { className: 'security-code' },
          el('p', {}, `${t('citizen.securityCode')} `, el('strong', { text: appointment.security_code })),
          el('p', { className: 'hint', text: t('citizen.securityCodeHint') }),
        )
      : null,
    el(
      'div',
      { className: 'actions' },
      el('button', { type: 'button', text: t('citizen.downloadSlip'), onclick: (event) => downloadSlip(appointment, event.currentTarget) }),
      el('button', { type: 'button', text: t('citizen.reschedule'), onclick: () => startReschedule(ben, appointment) }),
      el('button', { type: 'button', className: 'danger', text: t('citizen.cancelAppointment'), onclick: () => cancelAppointment(ben, appointment) }),
    ),
  );
}

async function loadRegistrationLists() {
  if (state.genders) return;
  const [genders, idTypes] = await Promise.all([
    authed('GET', '/api/v2/registration/beneficiary/genders'),
    authed('GET', '/api/v2/registration/beneficiary/idTypes'),
  ]);
  state.genders = genders.json.genders;
  state.idTypes = idTypes.json.types;
  $('ben-gender').replaceChildren(el('option', { value: '', text: t('citizen.choose') }), ...state.genders.map((g) => el('option', { value: g.id, text: g.gender })));
  $('ben-id-type').replaceChildren(...state.idTypes.map((t) => el('option', { value: t.id, text: t.type })));
}

/** The beneficiary form's fields that can be wrong, by the API's field name. */
const beneficiaryFields = () => ({
  name: { input: $('ben-name'), error: $('ben-name-error') },
  birth_year: { input: $('ben-birth-year'), error: $('ben-birth-year-error') },
  gender_id: { input: $('ben-gender'), error: $('ben-gender-error') },
  photo_id_number: { input: $('ben-id-number'), error: $('ben-id-number-error') },
  consent: { input: $('ben-consent'), error: $('ben-consent-error') },
});

/**
 * The field a refusal of the beneficiary form is about, and plain words for it: the server's own
 * text names the field (`name: …`), which a person should not have to read.
 */
function beneficiaryRefusal(error) {
  const fields = beneficiaryFields();
  if (error.code === 'BENREG0011' || error.code === 'BENREG0013') return { ...fields.photo_id_number, message: error.message };
  const field = error.code === 'GENVAL0001' ? /^(\w+)/.exec(error.detail ?? '')?.[1] : undefined;
  if (field && fields[field]) return { ...fields[field], message: t(`citizen.benProblem.${field}`) };
  return null;
}

function setupBeneficiaryForm() {
  const form = $('beneficiary-form');
  $('add-beneficiary').addEventListener('toggle', () => {
    if ($('add-beneficiary').open) loadRegistrationLists().catch((error) => show($('beneficiary-error'), error.message, 'error'));
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = event.submitter ?? form.querySelector('[type=submit]');
    if (button.dataset.busy) return;
    if (isUnavailable(button)) {
      show($('beneficiary-error'), t('citizen.beneficiaryLimitReached', { count: config.beneficiariesPerAccount }), 'error');
      return;
    }
    const thisYear = new Date().getFullYear();
    const name = $('ben-name').value.trim();
    const birthYear = Number($('ben-birth-year').value.trim());
    const fields = beneficiaryFields();
    const problems = [
      [!name, 'name'],
      [!/^\d{4}$/.test($('ben-birth-year').value.trim()) || birthYear > thisYear || birthYear < thisYear - 120, 'birth_year'],
      [!$('ben-gender').value, 'gender_id'],
      // each ID type's format is the country file's: the server checks it and says what it expects
      [!$('ben-id-number').value.trim(), 'photo_id_number'],
      [!$('ben-consent').checked, 'consent'],
    ]
      .filter(([bad]) => bad)
      .map(([, field]) => ({ ...fields[field], message: t(`citizen.benProblem.${field}`) }));
    pageProblems(problems, Object.values(fields));
    show($('beneficiary-error'), '');
    if (problems.length) return;
    setBusy(button, true);
    try {
      const { json } = await authed('POST', '/api/v2/registration/beneficiary/new', {
        body: {
          name,
          birth_year: String(birthYear),
          gender_id: Number($('ben-gender').value),
          photo_id_type: Number($('ben-id-type').value),
          photo_id_number: $('ben-id-number').value.trim(),
          comorbidity_ind: $('ben-comorbidity').checked ? 'Y' : 'N',
          consent_version: 'V1',
        },
      });
      form.reset();
      $('add-beneficiary').open = false;
      await loadBeneficiaries();
      show($('beneficiaries-status'), t('citizen.beneficiaryAdded', { name }), 'success');
      $(`ben-${json.beneficiary_reference_id}`)?.focus();
    } catch (error) {
      if (error.loggedOut) return;
      const refusal = beneficiaryRefusal(error);
      if (refusal) pageProblems([refusal], Object.values(fields));
      else show($('beneficiary-error'), error.message, 'error');
    } finally {
      setBusy(button, false);
      renderBeneficiaries();
    }
  });
}

async function deleteBeneficiary(ben) {
  const confirmed = await confirmAction({
    title: t('citizen.deleteTitle', { name: ben.name }),
    text: t('citizen.deleteText', { name: ben.name, year: ben.birth_year }),
    confirmLabel: t('citizen.deleteConfirm'),
    keepLabel: t('citizen.keep'),
  });
  if (!confirmed) return;
  try {
    await authed('POST', '/api/v2/registration/beneficiary/delete', { body: { beneficiary_reference_id: ben.beneficiary_reference_id } });
    await loadBeneficiaries();
    show($('beneficiaries-status'), t('citizen.beneficiaryDeleted', { name: ben.name }), 'success');
    $('beneficiaries-title').focus();
  } catch (error) {
    if (!error.loggedOut) show($('beneficiaries-status'), error.message, 'error');
  }
}

// ------------------------------------------------------------------ appointment actions

async function downloadSlip(appointment, button) {
  if (isUnavailable(button)) return;
  setBusy(button, true);
  show($('beneficiaries-status'), t('citizen.preparingSlip'));
  try {
    // the slip is printed in the page's language (the gateway's documents take ?lang=)
    const query = `appointment_id=${encodeURIComponent(appointment.appointment_id)}&lang=${document.documentElement.lang}`;
    const { blob } = await authed('GET', `/api/v2/appointment/appointmentslip/download?${query}`, { binary: true });
    const url = URL.createObjectURL(blob);
    const link = el('a', { href: url, download: `appointment-${appointment.appointment_id}.pdf`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    show($('beneficiaries-status'), t('citizen.slipDownloaded'), 'success');
  } catch (error) {
    if (!error.loggedOut) show($('beneficiaries-status'), error.message, 'error');
  } finally {
    setBusy(button, false);
  }
}

async function cancelAppointment(ben, appointment) {
  const confirmed = await confirmAction({
    title: t('citizen.cancelTitle'),
    text: t('citizen.cancelText', { dose: doseName(Number(appointment.dose)), name: ben.name, centre: appointment.name, date: longDayLabel(cowinToDay(appointment.date)), slot: appointment.slot }),
    confirmLabel: t('citizen.cancelConfirm'),
    keepLabel: t('citizen.keepAppointment'),
    run: () => authed('POST', '/api/v2/appointment/cancel', { body: { appointment_id: appointment.appointment_id, beneficiariesToCancel: [ben.beneficiary_reference_id] } }),
  });
  if (!confirmed) return;
  await loadBeneficiaries();
  show($('beneficiaries-status'), t('citizen.cancelled', { name: ben.name }), 'success');
  $(`ben-${ben.beneficiary_reference_id}`)?.focus();
}

function startReschedule(ben, appointment) {
  state.reschedule = { ben, appointment };
  $('reschedule-text').textContent = t('citizen.rescheduling', {
    dose: doseName(Number(appointment.dose)),
    name: ben.name,
    centre: appointment.name,
    date: longDayLabel(cowinToDay(appointment.date)),
    slot: appointment.slot,
  });
  $('reschedule-banner').hidden = false;
  $('search-title').scrollIntoView({ block: 'start' });
  $('reschedule-text').setAttribute('tabindex', '-1');
  $('reschedule-text').focus();
}

function stopReschedule() {
  state.reschedule = null;
  $('reschedule-banner').hidden = true;
}

/**
 * The confirm dialog: resolves true once `run` (if given) succeeded, false when the person kept things
 * as they were. An error from `run` is shown inside the dialog, which stays open.
 */
function confirmAction({ title, text, confirmLabel, keepLabel, run }) {
  const dialog = $('cancel-dialog');
  $('cancel-title').textContent = title;
  $('cancel-text').textContent = text;
  const button = dialog.querySelector('[type=submit]');
  button.textContent = confirmLabel;
  $('cancel-close').textContent = keepLabel;
  show($('cancel-error'), '');
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const finish = (result) => {
      $('cancel-form').removeEventListener('submit', onSubmit);
      $('cancel-close').removeEventListener('click', onKeep);
      dialog.removeEventListener('cancel', onKeep);
      if (dialog.open) dialog.close();
      if (!result && opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(result);
    };
    const onKeep = (event) => {
      event.preventDefault();
      finish(false);
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      if (isUnavailable(button)) return;
      if (!run) return finish(true);
      setBusy(button, true);
      try {
        await run();
        finish(true);
      } catch (error) {
        if (error.loggedOut) finish(false);
        else show($('cancel-error'), error.message, 'error');
      } finally {
        setBusy(button, false);
      }
    };
    $('cancel-form').addEventListener('submit', onSubmit);
    $('cancel-close').addEventListener('click', onKeep);
    dialog.addEventListener('cancel', onKeep);
    dialog.showModal();
    $('cancel-close').focus();
  });
}

// ------------------------------------------------------------------ search

/** The country's words for its administrative levels, inside sentences ("region", "area"). */
const levels = { state: levelInSentence(config.adminLevels.state), district: levelInSentence(config.adminLevels.district) };

/** The searches other than "Near me" this country offers, for messages. */
const otherSearches = () => (config.searchByPincode ? t('citizen.levelOrPin', { level: levels.district }) : levels.district);

async function loadStates() {
  if (state.statesList) return;
  try {
    const { json } = await callApi('GET', '/api/v2/admin/location/states', { cacheable: true });
    state.statesList = json.states;
    $('state').replaceChildren(el('option', { value: '', text: t('citizen.chooseLevel', { level: levels.state }) }), ...json.states.map((s) => el('option', { value: s.state_id, text: s.state_name })));
  } catch (error) {
    $('state').replaceChildren(el('option', { value: '', text: t('citizen.listNotLoaded', { level: levels.state }) }));
    show($('search-status'), error.message, 'error');
  }
}

async function districtsOf(stateId) {
  if (!state.districtsByState.has(stateId)) {
    const { json } = await callApi('GET', `/api/v2/admin/location/districts/${stateId}`, { cacheable: true });
    state.districtsByState.set(stateId, json.districts);
  }
  return state.districtsByState.get(stateId);
}

/**
 * The quota line under Search. At 0 searches left it is a warning: the next search in this window
 * logs the citizen out, and the page asks before making it.
 */
function showQuotaHint(remaining) {
  const q = config.searchQuota;
  state.searchesLeft = remaining;
  const hint = $('quota-hint');
  if (remaining === null) hint.textContent = t('citizen.quotaHint', { count: q.perWindow, minutes: formatNumber(q.windowMinutes) });
  else if (remaining > 0) hint.textContent = t('citizen.searchesLeft', { count: remaining, left: formatNumber(remaining), minutes: formatNumber(q.windowMinutes) });
  else hint.textContent = t('citizen.noSearchesLeft', { minutes: formatNumber(q.windowMinutes) });
  hint.className = remaining === 0 ? 'notice' : 'hint';
  hint.dataset.kind = remaining === 0 ? 'warning' : '';
}

/** The search form's fields that can be wrong. */
const searchFields = () => ({
  state: { input: $('state'), error: $('state-error') },
  district: { input: $('district'), error: $('district-error') },
  pincode: { input: $('pincode'), error: $('pincode-error') },
  fromDate: { input: $('from-date'), error: $('from-date-error') },
});

function setupSearch() {
  // the country's words for its levels, and PIN search only where the country offers it
  $('state-label').textContent = levelWord(config.adminLevels.state);
  $('district-label').textContent = levelWord(config.adminLevels.district);
  $('by-district-label').textContent = t('citizen.byLevel', { level: levels.district });
  $('district').replaceChildren(el('option', { value: '', text: t('citizen.chooseLevelFirst', { level: levels.state }) }));
  $('by-pin-choice').hidden = !config.searchByPincode;
  $('filter-count').textContent = t('citizen.noneChosen');
  $('live-text').textContent = LIVE_TEXT().off;
  for (const radio of document.querySelectorAll('input[name="search-by"]')) {
    radio.addEventListener('change', () => {
      const byPin = $('by-pin').checked;
      const byLocation = $('by-location').checked;
      $('pin-fields').hidden = !byPin;
      $('location-fields').hidden = !byLocation;
      $('district-fields').hidden = byPin || byLocation;
    });
  }
  $('state').addEventListener('change', async () => {
    const stateId = $('state').value;
    const district = $('district');
    district.disabled = true;
    if (!stateId) {
      district.replaceChildren(el('option', { value: '', text: t('citizen.chooseLevelFirst', { level: levels.state }) }));
      return;
    }
    district.replaceChildren(el('option', { value: '', text: t('common.loading') }));
    try {
      const districts = await districtsOf(Number(stateId));
      district.replaceChildren(el('option', { value: '', text: t('citizen.chooseLevel', { level: levels.district }) }), ...districts.map((d) => el('option', { value: d.district_id, text: d.district_name })));
      district.disabled = false;
    } catch (error) {
      district.replaceChildren(el('option', { value: '', text: t('citizen.listNotLoaded', { level: levels.district }) }));
      show($('search-status'), error.message, 'error');
    }
  });

  $('vaccine-filters').append(
    ...config.vaccines.map(({ name }, i) =>
      el(
        'span',
        { className: 'chip' },
        el('input', { type: 'checkbox', id: `f-vaccine-${i}`, dataset: { filter: 'vaccine' }, value: name }),
        el('label', { for: `f-vaccine-${i}`, text: name }),
      ),
    ),
  );
  $('filters').addEventListener('change', () => {
    const chosen = $('filters').querySelectorAll('input:checked').length;
    $('filter-count').textContent = chosen ? t('citizen.filtersChosen', { count: chosen, n: formatNumber(chosen) }) : t('citizen.noneChosen');
    renderResults();
  });
  // a phone keeps the calendar close to the search button; a wide screen has room to show them
  $('filters-box').open = window.matchMedia('(min-width: 720px)').matches;

  $('search-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = event.submitter ?? $('search-form').querySelector('[type=submit]');
    if (isUnavailable(button)) return;
    const fields = searchFields();
    const fromIso = $('from-date').value;
    const problems = [];
    if (!fromIso || isoToDay(fromIso) < todayDay()) problems.push({ ...fields.fromDate, message: t('citizen.dateProblem') });
    const byPin = $('by-pin').checked;
    const byLocation = $('by-location').checked;
    const pincode = $('pincode').value.trim();
    if (byPin && !/^\d{4,9}$/.test(pincode)) problems.push({ ...fields.pincode, message: messageFor('APPOIN0018') });
    if (!byPin && !byLocation && !$('state').value) problems.push({ ...fields.state, message: t('citizen.chooseLevelProblem', { level: levels.state }) });
    else if (!byPin && !byLocation && !$('district').value) problems.push({ ...fields.district, message: t('citizen.chooseLevelProblem', { level: levels.district }) });
    pageProblems(problems, Object.values(fields));
    if (problems.length) {
      show($('search-status'), '');
      return;
    }
    // at 0 searches left the next search logs out: say so, and search only if the citizen still wants to
    if (state.searchesLeft === 0) {
      const q = config.searchQuota;
      const go = await confirmAction({
        title: t('citizen.lastSearchTitle'),
        text: t('citizen.lastSearchText', { minutes: formatNumber(q.windowMinutes) }),
        confirmLabel: t('citizen.searchAnyway'),
        keepLabel: t('citizen.dontSearch'),
      });
      if (!go) return;
    }
    const fromDay = isoToDay(fromIso);
    let path;
    let label;
    /** centre id → km from the citizen, for a search near them */
    let distances = null;
    setBusy(button, true);
    try {
      if (byLocation) {
        show($('search-status'), t('citizen.findingNearby'));
        let near;
        try {
          near = await centresNearMe();
        } catch (error) {
          show($('search-status'), error.message, 'error');
          $('by-location').focus();
          return;
        }
        if (!near.length) {
          show($('search-status'), t('citizen.noneNearby', { searches: levels.district }), 'error');
          return;
        }
        distances = new Map(near.map((c) => [c.center_id, c.km]));
        // one search (one unit of the quota): the sessions of the nearest centre's district
        path = `/api/v2/appointment/sessions/calendarByDistrict?district_id=${near[0].district_id}&date=${dayToCowin(fromDay)}`;
        label = t('citizen.yourArea', { district: near[0].district_name });
      } else if (byPin) {
        path = `/api/v2/appointment/sessions/calendarByPin?pincode=${pincode}&date=${dayToCowin(fromDay)}`;
        label = t('citizen.pinPlace', { pincode });
      } else {
        path = `/api/v2/appointment/sessions/calendarByDistrict?district_id=${$('district').value}&date=${dayToCowin(fromDay)}`;
        label = $('district').selectedOptions[0].textContent;
      }
      show($('search-status'), t('citizen.searching'));
      const { json, headers } = await authed('GET', path);
      const remaining = headers.get('x-ratelimit-remaining');
      showQuotaHint(remaining === null ? null : Number(remaining));
      const centers = distances ? [...json.centers].sort((a, b) => (distances.get(a.center_id) ?? Infinity) - (distances.get(b.center_id) ?? Infinity)) : json.centers;
      state.search = { centers, fromDay, label, distances };
      state.sessions.clear();
      for (const center of json.centers) for (const session of center.sessions) state.sessions.set(session.session_id, { session, center });
      renderResults();
      // the answer may start below the fold: focus (and so scroll to) the results summary
      $('search-status').focus();
      void watchDistrictsOf(json.centers);
    } catch (error) {
      if (error.loggedOut) return;
      show($('search-status'), error.message, 'error');
      $('search-status').focus();
    } finally {
      setBusy(button, false);
    }
  });
  $('stop-reschedule').addEventListener('click', () => {
    stopReschedule();
    $('search-title').focus();
  });
}

/** The filters as sets; an empty set lets everything through. */
function currentFilters() {
  const chosen = { age: new Set(), vaccine: new Set(), fee: new Set(), dose: new Set() };
  for (const box of $('filters').querySelectorAll('input[type=checkbox]:checked')) chosen[box.dataset.filter].add(box.value);
  return chosen;
}

/** The doses whose capacity a session cell shows: the dose filter's, or both. */
function shownDoses(filters) {
  const doses = [...filters.dose].map(Number).sort();
  return doses.length ? doses : [1, 2];
}

const ageLabel = (s) => (s.max_age_limit !== undefined ? `${formatNumber(s.min_age_limit)}–${formatNumber(s.max_age_limit)}` : `${formatNumber(s.min_age_limit)}+`);
const feeTypeText = (center) => t(center.fee_type === 'Paid' ? 'citizen.paid' : 'citizen.free');
const feeText = (center, vaccine) => {
  if (center.fee_type !== 'Paid') return t('citizen.free');
  const fee = center.vaccine_fees?.find((f) => f.vaccine === vaccine)?.fee;
  const money = fee ? formatMoney(Number(fee)) : null;
  return money ? t('citizen.paidFee', { fee: money }) : t('citizen.paid');
};

function renderResults() {
  const search = state.search;
  const results = $('results');
  if (!search) return;
  const filters = currentFilters();
  const passes = (center, s) =>
    (!filters.age.size || filters.age.has(String(s.min_age_limit))) &&
    (!filters.vaccine.size || filters.vaccine.has(s.vaccine)) &&
    (!filters.fee.size || filters.fee.has(center.fee_type));
  const days = Array.from({ length: config.calendarDays }, (_, i) => search.fromDay + i);
  const doses = shownDoses(filters);
  const centers = search.centers.map((center) => ({ center, sessions: center.sessions.filter((s) => passes(center, s)) })).filter((c) => c.sessions.length);

  results.replaceChildren(
    ...centers.map(({ center, sessions }) =>
      el(
        'li',
        { className: 'centre', dataset: { centerId: center.center_id } },
        el('h3', { text: center.name }),
        el('p', { className: 'address', text: centreAddress(center) }),
        search.distances?.has(center.center_id) ? el('p', { className: 'distance', text: t('citizen.away', { distance: formatKm(search.distances.get(center.center_id)) }) }) : null,
        el('p', { className: 'fee' }, el('span', { className: `badge ${center.fee_type === 'Paid' ? 'paid' : 'free'}`, text: feeTypeText(center) }), ` ${center.from.slice(0, 5)}–${center.to.slice(0, 5)}`),
        el(
          'ul',
          { className: 'days', 'aria-label': t('citizen.sessionsAt', { centre: center.name }) },
          days.map((day) => {
            const onDay = sessions.filter((s) => cowinToDay(s.date) === day);
            return el(
              'li',
              { className: `day${onDay.length ? '' : ' empty'}` },
              el('span', { className: 'day-label', 'aria-hidden': 'true', text: dayLabel(day) }),
              onDay.length
                ? onDay.map((s) => sessionButton(center, s, day, doses))
                : el('span', { className: 'no-session' }, el('span', { 'aria-hidden': 'true', text: '—' }), hiddenText(t('citizen.noSessionOn', { day: dayLabel(day) }))),
            );
          }),
        ),
      ),
    ),
  );
  const total = search.centers.length;
  const shown = centers.length;
  const range = { from: dayLabel(days[0]), to: dayLabel(days[days.length - 1]) };
  show(
    $('search-status'),
    total === 0
      ? t('citizen.noResults', { place: search.label, ...range })
      : t('citizen.resultsSummary', { count: total, n: formatNumber(total), place: search.label, ...range }) + (shown === total ? '' : t('citizen.shownWithFilters', { n: formatNumber(shown) })) + t('citizen.fullStop'),
  );
}

const formatKm = (km) => formatNumber(km, { style: 'unit', unit: 'kilometer', maximumFractionDigits: km < 10 ? 1 : 0 });

/** The device's position, once (the browser asks the citizen), or an error that says what to do. */
function currentPosition() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new Error(t('citizen.noGeolocation', { searches: otherSearches() })));
      return;
    }
    navigator.geolocation.getCurrentPosition(
      resolve,
      (error) => reject(new Error(error.code === 1 ? t('citizen.locationRefused', { searches: otherSearches() }) : t('citizen.locationUnknown', { searches: levels.district }))),
      { timeout: 15_000, maximumAge: 300_000 },
    );
  });
}

/** The centres nearest to the device, nearest first, each with its distance in km. */
async function centresNearMe() {
  const { coords } = await currentPosition();
  const lat = coords.latitude.toFixed(4);
  const long = coords.longitude.toFixed(4);
  const { json } = await callApi('GET', `/api/v2/appointment/centers/public/findByLatLong?lat=${lat}&long=${long}`, { cacheable: true });
  return json.centers.map((c) => ({ ...c, km: haversineKm(coords.latitude, coords.longitude, c.lat, c.long) }));
}

function haversineKm(lat1, long1, lat2, long2) {
  const rad = (d) => (d * Math.PI) / 180;
  const a = Math.sin(rad(lat2 - lat1) / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(rad(long2 - long1) / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** The address line; master-data addresses often end with the district already. */
function centreAddress(center) {
  const parts = [center.address];
  if (!center.address.includes(center.district_name)) parts.push(center.district_name);
  // a country without postal codes answers pincode 0 (CoWIN's shape needs the field)
  parts.push(center.pincode ? `${center.state_name} ${center.pincode}` : center.state_name);
  return parts.join(', ');
}

function capacityOf(session, dose) {
  return dose === 1 ? session.available_capacity_dose1 : session.available_capacity_dose2;
}

function sessionButton(center, session, day, doses) {
  const button = el(
    'button',
    { type: 'button', className: 'session', dataset: { sessionId: session.session_id }, onclick: (event) => openBooking(session.session_id, event.currentTarget) },
    hiddenText(`${dayLabel(day)}: `),
    el('span', { className: 'vaccine', text: session.vaccine }),
    el('span', { className: 'age' }, hiddenText(`${t('citizen.ageWord')} `), ageLabel(session)),
    doses.map((dose) =>
      el(
        'span',
        { className: 'cap', dataset: { dose } },
        el('span', { 'aria-hidden': 'true', text: `${t('citizen.doseShort', { dose })} ` }),
        hiddenText(`${doseName(dose)}: `),
        el('b', { className: 'cap-value', text: '' }),
        hiddenText(` ${t('citizen.left')}`),
      ),
    ),
    el('span', { className: 'full-label', text: t('citizen.booked') }),
    underFairAdmission(session) ? el('span', { className: 'queue-label', text: t('citizen.queue.sessionLabel') }) : null,
  );
  updateSessionButton(button, session);
  return button;
}

/** Write a session's capacities into its button; a full session stays focusable but says so. */
function updateSessionButton(button, session) {
  let left = 0;
  for (const cap of button.querySelectorAll('.cap')) {
    const value = capacityOf(session, Number(cap.dataset.dose));
    cap.querySelector('.cap-value').textContent = formatNumber(value);
    left += value;
  }
  // aria-disabled, not disabled: a focused button that became full must keep the focus
  if (left === 0) button.setAttribute('aria-disabled', 'true');
  else button.removeAttribute('aria-disabled');
  button.classList.toggle('full', left === 0);
}

function describeSession(center, session) {
  return `${center.name}, ${center.district_name} · ${longDayLabel(cowinToDay(session.date))} · ${session.vaccine} · ${t('citizen.ageWord')} ${ageLabel(session)} · ${feeText(center, session.vaccine)}`;
}
const capacityLine = (session) => t('citizen.capacityLine', { dose1: formatNumber(session.available_capacity_dose1), dose2: formatNumber(session.available_capacity_dose2) });

// ------------------------------------------------------------------ live availability (WebSocket)

const LIVE_TEXT = () => ({
  off: t('citizen.live.off'),
  connecting: t('citizen.live.connecting'),
  live: t('citizen.live.live'),
  resumed: t('citizen.live.resumed'),
  reconnecting: t('citizen.live.reconnecting'),
});

const feed = new AvailabilityFeed(applyAvailability, (feedState) => {
  $('live-status').dataset.state = feedState;
  $('live-text').textContent = LIVE_TEXT()[feedState];
});

const queues = new FairQueues({
  list: $('queue-list'),
  section: $('queues'),
  announcer: $('queue-announcer'),
  authed,
  onAdmitted: offerAdmission,
  describe: (entry) => describeSession(entry.center, entry.session),
});

/** District ids of the centres found: a PIN code can span districts, and results name them. */
async function watchDistrictsOf(centers) {
  const ids = new Set();
  if (!$('by-pin').checked && $('district').value) ids.add(Number($('district').value));
  const statesByName = new Map((state.statesList ?? []).map((s) => [s.state_name, s.state_id]));
  for (const center of centers) {
    const stateId = statesByName.get(center.state_name);
    if (stateId === undefined) continue;
    try {
      const district = (await districtsOf(stateId)).find((d) => d.district_name === center.district_name);
      if (district) ids.add(district.district_id);
    } catch {
      // without the district list this centre's capacities are only as fresh as the search
    }
  }
  feed.watch([...ids]);
}

let pendingAnnouncements = [];
let announceTimer = null;

/** Apply pushed capacities to what is on screen; announce a short summary at most every 2 s. */
function applyAvailability(pushed) {
  for (const update of pushed) {
    const known = state.sessions.get(update.session_id);
    if (!known) continue;
    const { session, center } = known;
    const changed =
      session.available_capacity_dose1 !== update.available_capacity_dose1 || session.available_capacity_dose2 !== update.available_capacity_dose2;
    if (!changed) continue;
    session.available_capacity = update.available_capacity;
    session.available_capacity_dose1 = update.available_capacity_dose1;
    session.available_capacity_dose2 = update.available_capacity_dose2;
    for (const button of document.querySelectorAll(`button.session[data-session-id="${CSS.escape(update.session_id)}"]`)) {
      updateSessionButton(button, session);
      button.classList.remove('changed');
      void button.offsetWidth; // restart the highlight animation
      button.classList.add('changed');
    }
    if (state.booking?.sessionId === update.session_id) $('book-capacity').textContent = capacityLine(session);
    pendingAnnouncements.push(
      t('citizen.liveItem', {
        centre: center.name,
        day: dayLabel(cowinToDay(session.date)),
        vaccine: session.vaccine,
        dose1: formatNumber(session.available_capacity_dose1),
        dose2: formatNumber(session.available_capacity_dose2),
      }),
    );
  }
  if (pendingAnnouncements.length && !announceTimer) {
    announceTimer = setTimeout(() => {
      const items = pendingAnnouncements;
      pendingAnnouncements = [];
      announceTimer = null;
      $('live-announcer').textContent = items.length <= 3 ? t('citizen.liveUpdate', { items: items.join('; ') }) : t('citizen.liveUpdateMany', { count: items.length, n: formatNumber(items.length) });
    }, 2000);
  }
}

// ------------------------------------------------------------------ booking and rescheduling

/**
 * Open the booking dialog for a session of the results. A session under fair admission opens through
 * its queue: the dialog joins it (who to book for, no slot yet), and once the citizen's turn comes
 * (`admitted`, from the queue panel) it books with the admission.
 */
function openBooking(sessionId, button, admitted = null) {
  const known = state.sessions.get(sessionId);
  if (!known) return;
  const { session, center } = known;
  if (!admitted && button?.getAttribute('aria-disabled') === 'true') {
    show($('search-status'), t('citizen.sessionFull', { centre: center.name, day: dayLabel(cowinToDay(session.date)) }), 'error');
    return;
  }
  const rescheduling = admitted ? null : state.reschedule;
  const queued = !rescheduling && !admitted && underFairAdmission(session) ? queues.get(sessionId) : undefined;
  if (queued) {
    // already in this queue (on this device or restored after a reload): the panel says where
    if (FairQueues.phase(queued, queued.status) === 'admitted') return openBooking(sessionId, null, queued);
    queues.heading(sessionId)?.focus();
    return;
  }
  const mode = admitted ? 'admitted' : !rescheduling && underFairAdmission(session) ? 'join' : 'book';
  state.booking = { sessionId, idempotencyKey: newIdempotencyKey(), mode, admission: admitted?.status.admission ?? null };
  $('book-title').textContent = rescheduling ? t('citizen.moveTitle') : mode === 'join' ? t('citizen.queue.joinTitle') : mode === 'admitted' ? t('citizen.queue.admittedTitle') : t('citizen.bookTitle');
  $('book-session').textContent = describeSession(center, session);
  $('book-capacity').textContent = capacityLine(session);
  $('book-error-summary').hidden = true;
  const note = $('book-queue-note');
  const opensAt = openingOf(session);
  if (mode === 'join') show(note, opensAt > Date.now() ? t('citizen.queue.joinNoteBefore', { time: formatTime(opensAt) }) : t('citizen.queue.joinNote'), 'info');
  else if (mode === 'admitted') show(note, t('citizen.queue.yourTurn', { time: formatTime(admissionExpiry(admitted.status)) }), 'success');
  else show(note, '');

  const slots = $('book-slots');
  // a queue is joined for the session; the slot is chosen when the turn comes
  slots.hidden = mode === 'join';
  slots.replaceChildren(
    el('legend', { text: t('citizen.timeSlot') }),
    ...session.slots.map((slot, i) =>
      el('div', { className: 'check' }, el('input', { type: 'radio', name: 'slot', id: `slot-${i}`, value: slot, checked: i === 0 }), el('label', { for: `slot-${i}`, text: slot })),
    ),
  );

  const who = $('book-beneficiaries');
  let bookable = 0;
  if (rescheduling) {
    who.replaceChildren(
      el('legend', { text: t('citizen.appointmentWord') }),
      el('p', { text: t('citizen.moveText', { dose: doseName(Number(rescheduling.appointment.dose)), name: rescheduling.ben.name }) }),
    );
  } else {
    // everyone on the account, each with whether this session can take them and, if not, why
    const people = state.beneficiaries.map((ben) => ({ ben, ...eligibility(ben, session) }));
    const eligible = people.filter((p) => !p.reason);
    const refused = people.filter((p) => p.reason);
    bookable = eligible.length;
    // on their turn, the people the queue was joined for (the admission is for them)
    const joinedFor = admitted ? new Set(admitted.beneficiaries) : null;
    const preselected = (ben) => (joinedFor ? joinedFor.has(ben.beneficiary_reference_id) : eligible.length === 1);
    const parts = [
      el('legend', { text: t('citizen.bookFor') }),
      ...eligible.map(({ ben, dose }, i) => {
        const due = dueDay(ben, dose);
        return el(
          'div',
          { className: 'check' },
          el('input', { type: 'checkbox', id: `book-ben-${i}`, name: 'beneficiary', value: ben.beneficiary_reference_id, dataset: { dose, name: ben.name }, checked: preselected(ben), 'aria-describedby': due !== null ? `book-ben-${i}-due` : null }),
          el('label', { for: `book-ben-${i}`, text: t('citizen.personDose', { name: ben.name, dose: doseName(dose) }) }),
          due !== null ? el('p', { id: `book-ben-${i}-due`, className: 'hint', text: t('citizen.dueFrom', { dose: doseName(dose), date: longDayLabel(due) }) }) : null,
        );
      }),
      eligible.length === 0 ? el('p', { text: state.beneficiaries.length ? t('citizen.nobodyHere') : t('citizen.addFirst') }) : null,
      refused.length
        ? el(
            'div',
            { className: 'ineligible' },
            el('p', { className: 'ineligible-title', text: t('citizen.cannotBookHere') }),
            el('ul', {}, refused.map(({ ben, reason }) => el('li', { dataset: { beneficiaryId: ben.beneficiary_reference_id }, text: reason }))),
          )
        : null,
    ];
    who.replaceChildren(...parts.filter(Boolean));
  }
  $('book-confirm').textContent = rescheduling ? t('citizen.moveConfirm') : mode === 'join' ? t('citizen.queue.join') : t('citizen.bookConfirm');
  if (!rescheduling && bookable === 0) $('book-confirm').setAttribute('aria-disabled', 'true');
  else $('book-confirm').removeAttribute('aria-disabled');
  delete $('book-confirm').dataset.busy;
  show($('book-error'), '');
  setFieldError($('captcha'), $('captcha-error'), '');
  const captcha = config.captchaRequired && mode !== 'join';
  $('book-captcha').hidden = !captcha;
  if (captcha) void refreshCaptcha();
  for (const dialog of document.querySelectorAll('dialog[open]')) if (dialog !== $('book-dialog')) dialog.close();
  if (!$('book-dialog').open) $('book-dialog').showModal();
  (mode === 'join' ? who.querySelector('input') ?? $('book-confirm') : slots.querySelector('input'))?.focus();
}

/** When a session opens for booking (epoch ms; 0 when it is open already). */
function openingOf(session) {
  const at = typeof session.opens_at === 'number' ? session.opens_at : Date.parse(session.opens_at ?? '');
  return Number.isFinite(at) ? at : 0;
}

/** Whether a session opens through a queue (fair admission, issue 16): its Book button joins the queue. */
function underFairAdmission(session) {
  return session.fair_admission === true;
}

/** The queue panel told us it is this citizen's turn: the booking dialog opens with the admission. */
function offerAdmission(entry) {
  if (!state.sessions.has(entry.sessionId)) state.sessions.set(entry.sessionId, { session: entry.session, center: entry.center });
  // a booking the citizen is typing elsewhere is not taken away: the panel's "Book now" waits for them
  if ($('book-dialog').open && state.booking?.sessionId !== entry.sessionId) return;
  if ($('cancel-dialog').open) return;
  openBooking(entry.sessionId, null, entry);
}

/** Join a session's queue with the people chosen in the dialog. */
async function joinQueue(booking, chosen) {
  const { session, center } = state.sessions.get(booking.sessionId);
  const button = $('book-confirm');
  setBusy(button, true);
  show($('book-error'), t('citizen.queue.joining'), 'info');
  try {
    await queues.join({ session, center, beneficiaries: chosen.map((box) => box.value) });
    closeBooking();
    show($('beneficiaries-status'), '');
    queues.heading(session.session_id)?.scrollIntoView({ block: 'center' });
    queues.heading(session.session_id)?.focus();
  } catch (error) {
    if (error.loggedOut) return;
    show($('book-error'), error.message, 'error');
  } finally {
    setBusy(button, false);
  }
}

async function refreshCaptcha() {
  $('captcha').value = '';
  try {
    const { json } = await authed('POST', '/api/v2/auth/getRecaptcha');
    // an <img> of a data: URL: the SVG is shown, never parsed into the page
    $('captcha-image').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(json.captcha)}`;
  } catch (error) {
    if (!error.loggedOut) show($('book-error'), error.message, 'error');
  }
}

function closeBooking() {
  state.booking = null;
  if ($('book-dialog').open) $('book-dialog').close();
}

function setupBooking() {
  $('book-close').addEventListener('click', () => {
    const sessionId = state.booking?.sessionId;
    const admitted = state.booking?.mode === 'admitted';
    closeBooking();
    const back = admitted ? queues.heading(sessionId ?? '') : document.querySelector(`button.session[data-session-id="${CSS.escape(sessionId ?? '')}"]`);
    (back ?? queues.heading(sessionId ?? ''))?.focus();
  });
  $('book-dialog').addEventListener('close', () => {
    state.booking = null;
  });
  $('captcha-refresh').addEventListener('click', () => void refreshCaptcha());

  $('book-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const booking = state.booking;
    const button = $('book-confirm');
    if (!booking || button.dataset.busy) return;
    const { session, center } = state.sessions.get(booking.sessionId);
    const rescheduling = state.reschedule;
    const summary = $('book-error-summary');
    const captchaField = { input: $('captcha'), error: $('captcha-error') };
    if (isUnavailable(button)) return show($('book-error'), t('citizen.nobodyHere'), 'error');
    const joining = booking.mode === 'join';
    const slot = joining ? undefined : $('book-slots').querySelector('input[name=slot]:checked')?.value;
    const captcha = config.captchaRequired && !joining ? $('captcha').value.trim() : undefined;
    const chosen = rescheduling ? [] : [...$('book-beneficiaries').querySelectorAll('input[type=checkbox]:checked')];
    const firstPerson = $('book-beneficiaries').querySelector('input[type=checkbox]');
    const problems = [];
    if (!joining && !slot) problems.push({ input: $('book-slots').querySelector('input') ?? button, error: $('book-error'), message: t('citizen.chooseSlot') });
    if (!rescheduling && !chosen.length && firstPerson) problems.push({ input: firstPerson, error: $('book-error'), message: t('citizen.chooseWho') });
    if (config.captchaRequired && !joining && !captcha) problems.push({ ...captchaField, message: t('citizen.typeCaptcha') });
    reportProblems(summary, problems, [captchaField]);
    if (problems.length) return;
    show($('book-error'), '');

    let request;
    if (rescheduling) {
      request = ['/api/v2/appointment/reschedule', { appointment_id: rescheduling.appointment.appointment_id, session_id: session.session_id, slot }];
    } else {
      const doses = new Set(chosen.map((box) => Number(box.dataset.dose)));
      if (doses.size > 1) return show($('book-error'), t('citizen.differentDoses'), 'error');
      const [dose] = doses;
      if (joining) return joinQueue(booking, chosen);
      if (dose !== 3 && capacityOf(session, dose) < chosen.length) {
        // the server decides, but saying it now saves a refused request in a rush
        return show($('book-error'), `${t('citizen.notEnoughLeft', { left: formatNumber(capacityOf(session, dose)), dose: doseName(dose), count: chosen.length, n: formatNumber(chosen.length) })} ${messageFor('APPOIN0040')}`, 'error');
      }
      request = [
        '/api/v2/appointment/schedule',
        {
          dose,
          session_id: session.session_id,
          slot,
          beneficiaries: chosen.map((box) => box.value),
          center_id: center.center_id,
          ...(captcha ? { captcha } : {}),
          // the turn the queue gave this citizen (fair admission): schedule refuses the session without it
          ...(booking.admission ? { admission: booking.admission } : {}),
        },
      ];
    }

    setBusy(button, true);
    show($('book-error'), rescheduling ? t('citizen.moving') : t('citizen.booking'), 'info');
    try {
      const { json } = await authed('POST', request[0], {
        body: request[1],
        // the same key on a retry of this attempt: a lost answer can never book twice
        headers: rescheduling ? {} : { 'idempotency-key': booking.idempotencyKey },
      });
      closeBooking();
      if (booking.mode === 'admitted') queues.remove(booking.sessionId);
      const appointmentId = rescheduling ? rescheduling.appointment.appointment_id : json.appointment_confirmation_no;
      const who = rescheduling ? rescheduling.ben.name : chosen.map((box) => box.dataset.name).join(', ');
      stopReschedule();
      await loadBeneficiaries();
      show(
        $('beneficiaries-status'),
        t(rescheduling ? 'citizen.rescheduled' : 'citizen.bookedMessage', { who, centre: center.name, date: longDayLabel(cowinToDay(session.date)), slot, id: appointmentId }),
        'success',
      );
      const heading = document.querySelector(`.appointment[data-appointment-id="${CSS.escape(appointmentId)}"] h4`);
      heading?.scrollIntoView({ block: 'center' });
      heading?.focus();
    } catch (error) {
      if (error.loggedOut) return;
      show($('book-error'), error.message, 'error');
      if (error.code === 'APPOIN0044') void refreshCaptcha();
      // a turn that lapsed or seats that ran out: the queue's status says which, in its panel
      if (booking.mode === 'admitted') void queues.poll(booking.sessionId);
      // a session the search did not mark, under fair admission after all: the dialog joins its queue instead
      if (error.code === 'APPOIN0050' && booking.mode === 'book' && !rescheduling) {
        session.fair_admission = true;
        openBooking(booking.sessionId, null);
        show($('book-error'), error.message, 'error');
      }
      if (error.code !== 'NETWORK') booking.idempotencyKey = newIdempotencyKey();
      $('book-error').scrollIntoView({ block: 'nearest' });
    } finally {
      setBusy(button, false);
    }
  });
}

// ------------------------------------------------------------------ start

setupSwitcher($('language'), config);
setupLogin();
setupBeneficiaryForm();
setupSearch();
setupBooking();
if (state.token && (tokenExpiry(state.token) ?? Infinity) > Date.now()) enterAccount();
else {
  sessionStorage.removeItem(TOKEN_KEY);
  $('mobile').value = sessionStorage.getItem(MOBILE_KEY) ?? '';
}
document.documentElement.dataset.ready = 'true';
