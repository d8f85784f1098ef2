// The citizen's booking page: OTP login, beneficiaries, the 7-day calendar search with CoWIN's
// filters, capacities kept live by the availability WebSocket, booking, rescheduling, cancelling
// and the appointment slip. Plain DOM code: the page is small and must load fast on a phone.
import { ApiError, callApi, messageFor, show } from './api.js';
import { sha256Hex } from './sha256.js';

const config = JSON.parse(document.getElementById('teeka-config').textContent);
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'teeka.citizen.token';
const MOBILE_KEY = 'teeka.citizen.mobile';
const DAY_MS = 86_400_000;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  txnId: null,
  beneficiaries: [],
  /** session_id → { session, center } of the last search */
  sessions: new Map(),
  /** the last search: { centers, fromDay, label } */
  search: null,
  /** set while the citizen picks a new slot for an existing appointment */
  reschedule: null,
  /** the session the booking dialog is open for, and the idempotency key of this booking attempt */
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
const dayLabel = (day, options = { weekday: 'short', day: 'numeric', month: 'short' }) =>
  new Intl.DateTimeFormat(config.locale, { ...options, timeZone: 'UTC' }).format(new Date(day * DAY_MS));
const longDayLabel = (day) => dayLabel(day, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

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

function fieldError(input, errorElement, message) {
  show(errorElement, message, 'error');
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
}

const maskMobile = (mobile) => (mobile ? `${'•'.repeat(Math.max(0, mobile.length - 4))}${mobile.slice(-4)}` : '');

function newIdempotencyKey() {
  // crypto.randomUUID needs a secure origin; getRandomValues does not
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ------------------------------------------------------------------ API calls that need the login

/**
 * The refusals that end the login (the gateway deletes the login session for a quota logout and for
 * a block), and what to say about each, with this deployment's numbers.
 */
const LOGIN_ENDING = {
  USRAUT0001: () => messageFor('USRAUT0001'),
  USRAUT0030: () => {
    const q = config.searchQuota;
    return `You searched more than ${q.perWindow} times in ${q.windowMinutes} minutes, so you were logged out to keep the service fair for everyone. Searching works again ${q.windowMinutes} minutes after the first of those searches, also after logging in again; each search counts, so change the filters rather than searching again.`;
  },
  USRAUT0031: () => blockedMessage(),
};

function blockedMessage() {
  const q = config.searchQuota;
  return `This account is blocked for ${q.blockHours} hours because of too many searches (more than ${q.perDay} in a day). Please come back after the block ends.`;
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
let resendTimer = null;

function setupLogin() {
  $('mobile').maxLength = config.mobile.digits;
  $('mobile-country-code').textContent = `+${config.mobile.countryCode}`;
  $('mobile-hint').textContent = `${config.mobile.format}, without +${config.mobile.countryCode}. We will send you a one-time password (OTP) by SMS.`;
  if (config.demoLogin) {
    $('mobile-hint').textContent += ` Demo: numbers starting ${config.demoLogin.prefix} use the OTP ${config.demoLogin.otp}.`;
  }
  $('otp').maxLength = config.otpLength;
  $('otp-hint').textContent = `${config.otpLength} digits, valid for a few minutes.`;
  $('footer-country').textContent = config.countryName;

  $('mobile-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const mobile = $('mobile').value.replace(/\s+/g, '');
    if (!mobilePattern.test(mobile)) {
      fieldError($('mobile'), $('mobile-error'), `Please enter a mobile number of ${config.mobile.format}.`);
      $('mobile').focus();
      return;
    }
    fieldError($('mobile'), $('mobile-error'), '');
    await requestOtp(mobile);
  });

  $('otp-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const otp = $('otp').value.trim();
    if (!otpPattern.test(otp)) {
      fieldError($('otp'), $('otp-error'), `Please enter the ${config.otpLength}-digit OTP.`);
      $('otp').focus();
      return;
    }
    fieldError($('otp'), $('otp-error'), '');
    const button = event.submitter ?? $('otp-form').querySelector('[type=submit]');
    button.disabled = true;
    show($('login-status'), 'Checking the OTP…');
    try {
      const { json } = await callApi('POST', '/api/v2/auth/validateMobileOtp', { body: { otp: await sha256Hex(otp), txnId: state.txnId } });
      state.token = json.token;
      sessionStorage.setItem(TOKEN_KEY, json.token);
      sessionStorage.setItem(MOBILE_KEY, $('mobile').value.trim());
      show($('login-status'), '');
      enterAccount({ justLoggedIn: true });
    } catch (error) {
      show($('login-status'), '');
      fieldError($('otp'), $('otp-error'), error.message);
      $('otp').focus();
    } finally {
      button.disabled = false;
    }
  });

  $('resend-otp').addEventListener('click', () => requestOtp($('mobile').value.trim()));
  $('change-mobile').addEventListener('click', () => {
    $('otp-form').hidden = true;
    $('mobile-form').hidden = false;
    $('mobile').focus();
  });
  $('logout').addEventListener('click', () => logout('You have logged out.', 'info'));
}

async function requestOtp(mobile) {
  show($('login-status'), 'Sending the OTP…');
  show($('login-reason'), '');
  try {
    const { json } = await callApi('POST', '/api/v2/auth/generateMobileOTP', { body: { mobile } });
    state.txnId = json.txnId;
    show($('login-status'), '');
    $('mobile-form').hidden = true;
    $('otp-form').hidden = false;
    $('otp').value = '';
    fieldError($('otp'), $('otp-error'), '');
    $('otp-sent').textContent = `We sent an OTP to ${maskMobile(mobile)}.`;
    startResendCountdown(config.otpResendSeconds);
    $('otp').focus();
  } catch (error) {
    show($('login-status'), '');
    const input = $('otp-form').hidden ? $('mobile') : $('otp');
    fieldError(input, input === $('mobile') ? $('mobile-error') : $('otp-error'), error.code === 'USRAUT0031' ? blockedMessage() : error.message);
    if (error.code === 'USRAUT0015' && error.retryAfterSeconds) startResendCountdown(error.retryAfterSeconds);
    input.focus();
  }
}

function startResendCountdown(seconds) {
  clearInterval(resendTimer);
  const button = $('resend-otp');
  let left = seconds;
  const tick = () => {
    button.disabled = left > 0;
    button.textContent = left > 0 ? `Resend OTP in ${left} s` : 'Resend OTP';
    left -= 1;
    if (left < -1) clearInterval(resendTimer);
  };
  tick();
  resendTimer = setInterval(tick, 1000);
}

let expiryTimer = null;

/** Show the account; on a fresh login move focus to it so a screen reader follows. */
function enterAccount({ justLoggedIn = false } = {}) {
  $('login').hidden = true;
  $('account').hidden = false;
  $('signed-in').hidden = false;
  $('signed-in-as').textContent = `Signed in as ${maskMobile(sessionStorage.getItem(MOBILE_KEY) ?? '')}`;
  const today = todayDay();
  $('from-date').min = dayToIso(today);
  if (!$('from-date').value || isoToDay($('from-date').value) < today) $('from-date').value = dayToIso(today);
  showQuotaHint(null);
  // the token says when it expires: end the page's login then, with a reason, not at the next click
  clearTimeout(expiryTimer);
  const expiresAt = tokenExpiry(state.token);
  if (expiresAt) expiryTimer = setTimeout(() => logout(messageFor('USRAUT0001')), Math.max(0, expiresAt - Date.now()));
  void loadBeneficiaries();
  void loadStates();
  if (justLoggedIn) $('beneficiaries-title').focus();
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
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(expiryTimer);
  feed.stop();
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  $('account').hidden = true;
  $('signed-in').hidden = true;
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

// ------------------------------------------------------------------ beneficiaries

const vaccineSchedules = new Map(config.vaccines.map((v) => [v.name, v]));

/**
 * The dose a beneficiary needs next, or null when they have them all: after the primary doses
 * (one for a single-dose vaccine) the precaution dose, where their vaccine has one.
 */
function nextDose(ben) {
  if (ben.vaccination_status === 'Not Vaccinated') return 1;
  if (ben.vaccination_status === 'Partially Vaccinated') return 2;
  const schedule = vaccineSchedules.get(ben.vaccine);
  return ben.precaution_dose_date || (schedule && !schedule.precaution) ? null : 3;
}
const doseName = (dose) => (dose === 3 ? 'precaution dose' : `dose ${dose}`);

/** Beneficiaries who can be booked now: they need a dose and have no appointment for it. */
function bookableBeneficiaries() {
  return state.beneficiaries.filter((ben) => {
    const dose = nextDose(ben);
    return dose !== null && !ben.appointments.some((a) => Number(a.dose) === dose);
  });
}

async function loadBeneficiaries() {
  try {
    const { json } = await authed('GET', '/api/v2/appointment/beneficiaries');
    state.beneficiaries = json.beneficiaries;
    renderBeneficiaries();
  } catch (error) {
    if (!error.loggedOut) show($('beneficiaries-status'), error.message, 'error');
  }
}

function renderBeneficiaries() {
  const list = $('beneficiary-list');
  const items = state.beneficiaries.map((ben) =>
    el(
      'li',
      { className: 'beneficiary', dataset: { beneficiaryId: ben.beneficiary_reference_id } },
      el('h3', { id: `ben-${ben.beneficiary_reference_id}`, tabindex: '-1', text: ben.name }),
      el(
        'dl',
        { className: 'facts' },
        el('div', {}, el('dt', { text: 'Reference ID' }), el('dd', { text: ben.beneficiary_reference_id })),
        el('div', {}, el('dt', { text: 'Year of birth' }), el('dd', { text: ben.birth_year })),
        el('div', {}, el('dt', { text: 'Photo ID' }), el('dd', { text: `${ben.photo_id_type} ${ben.photo_id_number}` })),
        el('div', {}, el('dt', { text: 'Status' }), el('dd', { className: 'vaccination-status', text: vaccinationText(ben) })),
      ),
      ben.appointments.map((appointment) => renderAppointment(ben, appointment)),
      ben.appointments.length === 0 && ben.vaccination_status === 'Not Vaccinated'
        ? el('button', { type: 'button', className: 'link-button', text: `Delete ${ben.name}`, onclick: () => deleteBeneficiary(ben) })
        : null,
    ),
  );
  list.replaceChildren(...items);
  const limitReached = state.beneficiaries.length >= config.beneficiariesPerAccount;
  $('beneficiary-limit').textContent = limitReached
    ? `This account has the most beneficiaries it can hold (${config.beneficiariesPerAccount}).`
    : `An account can hold up to ${config.beneficiariesPerAccount} beneficiaries.`;
  $('beneficiary-form').querySelector('[type=submit]').disabled = limitReached;
  if (!state.beneficiaries.length) {
    show($('beneficiaries-status'), 'No beneficiaries yet. Add the first one to book a vaccination.');
    $('add-beneficiary').open = true;
  } else if ($('beneficiaries-status').dataset.kind === 'error') {
    show($('beneficiaries-status'), '');
  }
}

function vaccinationText(ben) {
  const doses = [
    ben.dose1_date && `dose 1 on ${ben.dose1_date}`,
    ben.dose2_date && `dose 2 on ${ben.dose2_date}`,
    ben.precaution_dose_date && `precaution dose on ${ben.precaution_dose_date}`,
  ].filter(Boolean);
  return doses.length ? `${ben.vaccination_status} (${ben.vaccine}: ${doses.join(', ')})` : ben.vaccination_status;
}

function renderAppointment(ben, appointment) {
  const dose = Number(appointment.dose);
  const headingId = `appt-${appointment.appointment_id}-${ben.beneficiary_reference_id}`;
  return el(
    'section',
    { className: 'appointment', 'aria-labelledby': headingId, dataset: { appointmentId: appointment.appointment_id } },
    el('h4', { id: headingId, tabindex: '-1', text: `Appointment for ${doseName(dose)}` }),
    el('p', { text: `${appointment.name}, ${appointment.district_name}, ${appointment.state_name}` }),
    el('p', { className: 'when', text: `${longDayLabel(cowinToDay(appointment.date))}, ${appointment.slot}` }),
    el('p', { className: 'appointment-id' }, 'Appointment ID ', el('code', { text: appointment.appointment_id })),
    // from the beneficiaries list (not the booking's answer), so it is still here after a reload
    appointment.security_code
      ? el(
          'div',
          { className: 'security-code' },
          el('p', {}, 'Security code ', el('strong', { text: appointment.security_code })),
          el('p', { className: 'hint', text: 'Give this code to the vaccinator when you are vaccinated. Keep it to yourself until then.' }),
        )
      : null,
    el(
      'div',
      { className: 'actions' },
      el('button', { type: 'button', text: 'Download slip', onclick: (event) => downloadSlip(appointment, event.currentTarget) }),
      el('button', { type: 'button', text: 'Reschedule', onclick: () => startReschedule(ben, appointment) }),
      el('button', { type: 'button', className: 'danger', text: 'Cancel appointment', onclick: () => cancelAppointment(ben, appointment) }),
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
  $('ben-gender').replaceChildren(el('option', { value: '', text: 'Choose…' }), ...state.genders.map((g) => el('option', { value: g.id, text: g.gender })));
  $('ben-id-type').replaceChildren(...state.idTypes.map((t) => el('option', { value: t.id, text: t.type })));
}

function setupBeneficiaryForm() {
  const form = $('beneficiary-form');
  $('add-beneficiary').addEventListener('toggle', () => {
    if ($('add-beneficiary').open) loadRegistrationLists().catch((error) => show($('beneficiary-error'), error.message, 'error'));
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const thisYear = new Date().getFullYear();
    const name = $('ben-name').value.trim();
    const birthYear = Number($('ben-birth-year').value.trim());
    const problems = [
      [!name, $('ben-name'), 'Please enter the name as on the photo ID.'],
      [!/^\d{4}$/.test($('ben-birth-year').value.trim()) || birthYear > thisYear || birthYear < thisYear - 120, $('ben-birth-year'), 'Please enter the year of birth, for example 1980.'],
      [!$('ben-gender').value, $('ben-gender'), 'Please choose a gender.'],
      // each ID type's format is the country file's: the server checks it and says what it expects
      [!$('ben-id-number').value.trim(), $('ben-id-number'), 'Please enter the photo ID number.'],
      [!$('ben-consent').checked, $('ben-consent'), 'Please confirm the information and give your consent.'],
    ];
    for (const [, input] of problems) input.removeAttribute('aria-invalid');
    const problem = problems.find(([bad]) => bad);
    if (problem) {
      problem[1].setAttribute('aria-invalid', 'true');
      show($('beneficiary-error'), problem[2], 'error');
      problem[1].focus();
      return;
    }
    show($('beneficiary-error'), '');
    const button = event.submitter ?? form.querySelector('[type=submit]');
    button.disabled = true;
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
      show($('beneficiaries-status'), `${name} was added (reference ID ${json.beneficiary_reference_id}).`, 'success');
      $(`ben-${json.beneficiary_reference_id}`)?.focus();
    } catch (error) {
      if (!error.loggedOut) show($('beneficiary-error'), error.message, 'error');
    } finally {
      button.disabled = state.beneficiaries.length >= config.beneficiariesPerAccount;
    }
  });
}

async function deleteBeneficiary(ben) {
  const confirmed = await confirmAction({ title: `Delete ${ben.name}?`, text: `${ben.name} (reference ID ${ben.beneficiary_reference_id}) will be removed from this account.`, confirmLabel: 'Yes, delete', keepLabel: 'Keep' });
  if (!confirmed) return;
  try {
    await authed('POST', '/api/v2/registration/beneficiary/delete', { body: { beneficiary_reference_id: ben.beneficiary_reference_id } });
    await loadBeneficiaries();
    show($('beneficiaries-status'), `${ben.name} was deleted.`, 'success');
    $('beneficiaries-title').focus();
  } catch (error) {
    if (!error.loggedOut) show($('beneficiaries-status'), error.message, 'error');
  }
}

// ------------------------------------------------------------------ appointment actions

async function downloadSlip(appointment, button) {
  button.disabled = true;
  show($('beneficiaries-status'), 'Preparing the appointment slip…');
  try {
    const { blob } = await authed('GET', `/api/v2/appointment/appointmentslip/download?appointment_id=${encodeURIComponent(appointment.appointment_id)}`, { binary: true });
    const url = URL.createObjectURL(blob);
    const link = el('a', { href: url, download: `appointment-${appointment.appointment_id}.pdf`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    show($('beneficiaries-status'), 'The appointment slip was downloaded (PDF).', 'success');
  } catch (error) {
    if (!error.loggedOut) show($('beneficiaries-status'), error.message, 'error');
  } finally {
    button.disabled = false;
  }
}

async function cancelAppointment(ben, appointment) {
  const confirmed = await confirmAction({
    title: 'Cancel appointment?',
    text: `Cancel the ${doseName(Number(appointment.dose))} appointment of ${ben.name} at ${appointment.name} on ${longDayLabel(cowinToDay(appointment.date))}, ${appointment.slot}? The dose goes back to others.`,
    confirmLabel: 'Yes, cancel it',
    keepLabel: 'Keep appointment',
    run: () => authed('POST', '/api/v2/appointment/cancel', { body: { appointment_id: appointment.appointment_id, beneficiariesToCancel: [ben.beneficiary_reference_id] } }),
  });
  if (!confirmed) return;
  await loadBeneficiaries();
  show($('beneficiaries-status'), `The appointment of ${ben.name} was cancelled.`, 'success');
  $(`ben-${ben.beneficiary_reference_id}`)?.focus();
}

function startReschedule(ben, appointment) {
  state.reschedule = { ben, appointment };
  $('reschedule-text').textContent =
    `Choosing a new slot for the ${doseName(Number(appointment.dose))} appointment of ${ben.name} ` +
    `(now ${appointment.name}, ${longDayLabel(cowinToDay(appointment.date))}, ${appointment.slot}). Search, then pick a session.`;
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
  dialog.querySelector('[type=submit]').textContent = confirmLabel;
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
      if (!run) return finish(true);
      const button = dialog.querySelector('[type=submit]');
      button.disabled = true;
      try {
        await run();
        finish(true);
      } catch (error) {
        if (error.loggedOut) finish(false);
        else show($('cancel-error'), error.message, 'error');
      } finally {
        button.disabled = false;
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

/** The country's words for its administrative levels, in lower case for sentences ("region", "area"). */
const levels = { state: config.adminLevels.state.toLowerCase(), district: config.adminLevels.district.toLowerCase() };

/** The searches other than "Near me" this country offers, for messages. */
const otherSearches = config.searchByPincode ? `${levels.district} or PIN code` : levels.district;

async function loadStates() {
  if (state.statesList) return;
  try {
    const { json } = await callApi('GET', '/api/v2/admin/location/states', { cacheable: true });
    state.statesList = json.states;
    $('state').replaceChildren(el('option', { value: '', text: `Choose a ${levels.state}` }), ...json.states.map((s) => el('option', { value: s.state_id, text: s.state_name })));
  } catch (error) {
    $('state').replaceChildren(el('option', { value: '', text: `The list of ${levels.state}s could not be loaded` }));
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

function showQuotaHint(remaining) {
  const q = config.searchQuota;
  $('quota-hint').textContent =
    remaining === null
      ? `Each search counts: more than ${q.perWindow} searches in ${q.windowMinutes} minutes logs you out. Filters do not count.`
      : `${remaining} search${remaining === 1 ? '' : 'es'} left in this ${q.windowMinutes}-minute window. Filters do not count.`;
}

function setupSearch() {
  // the country's words for its levels, and PIN search only where the country offers it
  $('state-label').textContent = config.adminLevels.state;
  $('district-label').textContent = config.adminLevels.district;
  $('by-district-label').textContent = `By ${levels.district}`;
  $('district').replaceChildren(el('option', { value: '', text: `Choose a ${levels.state} first` }));
  $('by-pin-choice').hidden = !config.searchByPincode;
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
      district.replaceChildren(el('option', { value: '', text: `Choose a ${levels.state} first` }));
      return;
    }
    district.replaceChildren(el('option', { value: '', text: 'Loading…' }));
    try {
      const districts = await districtsOf(Number(stateId));
      district.replaceChildren(el('option', { value: '', text: `Choose a ${levels.district}` }), ...districts.map((d) => el('option', { value: d.district_id, text: d.district_name })));
      district.disabled = false;
    } catch (error) {
      district.replaceChildren(el('option', { value: '', text: `The list of ${levels.district}s could not be loaded` }));
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
    $('filter-count').textContent = chosen ? `(${chosen} chosen)` : '(none chosen)';
    renderResults();
  });
  // a phone keeps the calendar close to the search button; a wide screen has room to show them
  $('filters-box').open = window.matchMedia('(min-width: 720px)').matches;

  $('search-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const fromIso = $('from-date').value;
    if (!fromIso || isoToDay(fromIso) < todayDay()) {
      show($('search-status'), 'Please choose a date from today on.', 'error');
      $('from-date').focus();
      return;
    }
    const fromDay = isoToDay(fromIso);
    let path;
    let label;
    /** centre id → km from the citizen, for a search near them */
    let distances = null;
    if ($('by-location').checked) {
      show($('search-status'), 'Finding the centres near you…');
      let near;
      try {
        near = await centresNearMe();
      } catch (error) {
        show($('search-status'), error.message, 'error');
        $('by-location').focus();
        return;
      }
      if (!near.length) {
        show($('search-status'), `No vaccination centres were found near you. Please search by ${levels.district}.`, 'error');
        return;
      }
      distances = new Map(near.map((c) => [c.center_id, c.km]));
      // one search (one unit of the quota): the sessions of the nearest centre's district
      path = `/api/v2/appointment/sessions/calendarByDistrict?district_id=${near[0].district_id}&date=${dayToCowin(fromDay)}`;
      label = `your area (${near[0].district_name}, nearest first)`;
    } else if ($('by-pin').checked) {
      const pincode = $('pincode').value.trim();
      if (!/^\d{4,9}$/.test(pincode)) {
        $('pincode').setAttribute('aria-invalid', 'true');
        show($('search-status'), messageFor('APPOIN0018'), 'error');
        $('pincode').focus();
        return;
      }
      $('pincode').removeAttribute('aria-invalid');
      path = `/api/v2/appointment/sessions/calendarByPin?pincode=${pincode}&date=${dayToCowin(fromDay)}`;
      label = `PIN code ${pincode}`;
    } else {
      const districtId = $('district').value;
      if (!districtId) {
        show($('search-status'), `Please choose a ${levels.state} and a ${levels.district}.`, 'error');
        ($('state').value ? $('district') : $('state')).focus();
        return;
      }
      path = `/api/v2/appointment/sessions/calendarByDistrict?district_id=${districtId}&date=${dayToCowin(fromDay)}`;
      label = $('district').selectedOptions[0].textContent;
    }
    const button = event.submitter ?? $('search-form').querySelector('[type=submit]');
    button.disabled = true;
    show($('search-status'), 'Searching…');
    try {
      const { json, headers } = await authed('GET', path);
      const remaining = headers.get('x-ratelimit-remaining');
      showQuotaHint(remaining === null ? null : Number(remaining));
      const centers = distances ? [...json.centers].sort((a, b) => (distances.get(a.center_id) ?? Infinity) - (distances.get(b.center_id) ?? Infinity)) : json.centers;
      state.search = { centers, fromDay, label, distances };
      state.sessions.clear();
      for (const center of json.centers) for (const session of center.sessions) state.sessions.set(session.session_id, { session, center });
      renderResults();
      void watchDistrictsOf(json.centers);
    } catch (error) {
      if (error.loggedOut) return;
      show($('search-status'), error.message, 'error');
    } finally {
      button.disabled = false;
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

const ageLabel = (s) => (s.max_age_limit !== undefined ? `${s.min_age_limit}–${s.max_age_limit}` : `${s.min_age_limit}+`);
// fees are whole units of the country's currency (country.currency in the country file)
const feeFormat = config.currency
  ? new Intl.NumberFormat(config.locale, { style: 'currency', currency: config.currency, currencyDisplay: 'symbol', maximumFractionDigits: 0 })
  : null;
const feeText = (center, vaccine) => {
  if (center.fee_type !== 'Paid') return 'Free';
  const fee = center.vaccine_fees?.find((f) => f.vaccine === vaccine)?.fee;
  return fee && feeFormat ? `Paid, ${feeFormat.format(Number(fee))}` : 'Paid';
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
        search.distances?.has(center.center_id) ? el('p', { className: 'distance', text: `${formatKm(search.distances.get(center.center_id))} away` }) : null,
        el('p', { className: 'fee' }, el('span', { className: `badge ${center.fee_type === 'Paid' ? 'paid' : 'free'}`, text: center.fee_type }), ` ${center.from.slice(0, 5)}–${center.to.slice(0, 5)}`),
        el(
          'ul',
          { className: 'days', 'aria-label': `Sessions at ${center.name}` },
          days.map((day) => {
            const onDay = sessions.filter((s) => cowinToDay(s.date) === day);
            return el(
              'li',
              { className: `day${onDay.length ? '' : ' empty'}` },
              el('span', { className: 'day-label', 'aria-hidden': 'true', text: dayLabel(day) }),
              onDay.length ? onDay.map((s) => sessionButton(center, s, day, doses)) : el('span', { className: 'no-session' }, el('span', { 'aria-hidden': 'true', text: '—' }), hiddenText(`${dayLabel(day)}: no session`)),
            );
          }),
        ),
      ),
    ),
  );
  const total = search.centers.length;
  const shown = centers.length;
  const range = `${dayLabel(days[0])} to ${dayLabel(days[days.length - 1])}`;
  show(
    $('search-status'),
    total === 0
      ? `No vaccination sessions in ${search.label} from ${range}. Try another date or place.`
      : `${total} centre${total === 1 ? '' : 's'} in ${search.label} with sessions from ${range}${shown === total ? '' : `; ${shown} shown with the filters`}.`,
  );
}

const formatKm = (km) => `${new Intl.NumberFormat('en-IN', { maximumFractionDigits: km < 10 ? 1 : 0 }).format(km)} km`;

/** The device's position, once (the browser asks the citizen), or an error that says what to do. */
function currentPosition() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) {
      reject(new Error(`This browser cannot tell your location. Please search by ${otherSearches}.`));
      return;
    }
    navigator.geolocation.getCurrentPosition(resolve, (error) =>
      reject(new Error(error.code === 1 ? `Location was not allowed. Please allow it, or search by ${otherSearches}.` : `Your location could not be found. Please try again, or search by ${levels.district}.`)),
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
    el('span', { className: 'age' }, hiddenText('age '), ageLabel(session)),
    doses.map((dose) =>
      el('span', { className: 'cap', dataset: { dose } }, el('span', { 'aria-hidden': 'true', text: `D${dose} ` }), hiddenText(`dose ${dose}: `), el('b', { className: 'cap-value', text: '' }), hiddenText(' left')),
    ),
    el('span', { className: 'full-label', text: 'Booked' }),
  );
  updateSessionButton(button, session);
  return button;
}

/** Write a session's capacities into its button; a full session stays focusable but says so. */
function updateSessionButton(button, session) {
  let left = 0;
  for (const cap of button.querySelectorAll('.cap')) {
    const value = capacityOf(session, Number(cap.dataset.dose));
    cap.querySelector('.cap-value').textContent = String(value);
    left += value;
  }
  // aria-disabled, not disabled: a focused button that became full must keep the focus
  if (left === 0) button.setAttribute('aria-disabled', 'true');
  else button.removeAttribute('aria-disabled');
  button.classList.toggle('full', left === 0);
}

function describeSession(center, session) {
  return `${center.name}, ${center.district_name} · ${longDayLabel(cowinToDay(session.date))} · ${session.vaccine} · age ${ageLabel(session)} · ${feeText(center, session.vaccine)}`;
}
const capacityLine = (session) => `Doses left now: dose 1 ${session.available_capacity_dose1}, dose 2 ${session.available_capacity_dose2}.`;

// ------------------------------------------------------------------ live availability (WebSocket)

/**
 * The availability feed: one WebSocket subscribed to the districts of the last search. It
 * reconnects with backoff; capacities pushed while it was away are not replayed, so it says so.
 */
class AvailabilityFeed {
  constructor(onSessions, onState) {
    this.onSessions = onSessions;
    this.onState = onState;
    this.districts = [];
    this.socket = null;
    this.retryMs = 1000;
    this.retryTimer = null;
    /** the socket dropped since the last subscription: pushes may have been missed */
    this.interrupted = false;
  }

  watch(districtIds) {
    const previous = this.districts;
    this.districts = [...new Set(districtIds)];
    if (!this.districts.length) return this.stop();
    if (this.socket?.readyState === WebSocket.OPEN) {
      const gone = previous.filter((id) => !this.districts.includes(id));
      if (gone.length) this.socket.send(JSON.stringify({ unsubscribe: gone }));
      this.socket.send(JSON.stringify({ subscribe: this.districts }));
    } else if (!this.socket) {
      this.connect();
    }
  }

  connect() {
    clearTimeout(this.retryTimer);
    // the districts ride on the URL: the socket is subscribed the moment it opens
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/teeka/ws/availability?district_id=${this.districts.join(',')}`;
    const socket = new WebSocket(url);
    this.socket = socket;
    this.onState('connecting');
    socket.addEventListener('message', (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === 'subscribed' && message.district_ids.length) {
        this.retryMs = 1000;
        this.onState(this.interrupted ? 'resumed' : 'live');
        this.interrupted = false;
      } else if (message.type === 'availability') {
        this.onSessions(message.sessions);
      }
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.districts.length) return;
      this.interrupted = true;
      this.onState('reconnecting');
      this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 15_000);
    });
  }

  stop() {
    this.districts = [];
    this.interrupted = false;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    this.onState('off');
  }
}

const LIVE_TEXT = {
  off: 'Live updates start after a search',
  connecting: 'Connecting live updates…',
  live: 'Live: capacities change here as people book',
  resumed: 'Live again. Changes made while disconnected show after the next search.',
  reconnecting: 'Live updates interrupted; reconnecting…',
};

const feed = new AvailabilityFeed(applyAvailability, (feedState) => {
  $('live-status').dataset.state = feedState;
  $('live-text').textContent = LIVE_TEXT[feedState];
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
    pendingAnnouncements.push(`${center.name}, ${dayLabel(cowinToDay(session.date))}, ${session.vaccine}: ${session.available_capacity_dose1} dose 1 and ${session.available_capacity_dose2} dose 2 left`);
  }
  if (pendingAnnouncements.length && !announceTimer) {
    announceTimer = setTimeout(() => {
      const items = pendingAnnouncements;
      pendingAnnouncements = [];
      announceTimer = null;
      $('live-announcer').textContent = items.length <= 3 ? `Live update: ${items.join('; ')}.` : `Live update: capacity changed in ${items.length} sessions.`;
    }, 2000);
  }
}

// ------------------------------------------------------------------ booking and rescheduling

function openBooking(sessionId, button) {
  const known = state.sessions.get(sessionId);
  if (!known) return;
  const { session, center } = known;
  if (button.getAttribute('aria-disabled') === 'true') {
    show($('search-status'), `${center.name} on ${dayLabel(cowinToDay(session.date))} is fully booked. Please choose another session.`, 'error');
    return;
  }
  const rescheduling = state.reschedule;
  state.booking = { sessionId, idempotencyKey: newIdempotencyKey() };
  $('book-title').textContent = rescheduling ? 'Move the appointment here' : 'Book a slot';
  $('book-session').textContent = describeSession(center, session);
  $('book-capacity').textContent = capacityLine(session);

  const slots = $('book-slots');
  slots.replaceChildren(
    el('legend', { text: 'Time slot' }),
    ...session.slots.map((slot, i) =>
      el('div', { className: 'check' }, el('input', { type: 'radio', name: 'slot', id: `slot-${i}`, value: slot, checked: i === 0 }), el('label', { for: `slot-${i}`, text: slot })),
    ),
  );

  const who = $('book-beneficiaries');
  if (rescheduling) {
    who.replaceChildren(el('legend', { text: 'Appointment' }), el('p', { text: `The ${doseName(Number(rescheduling.appointment.dose))} appointment of ${rescheduling.ben.name} and everyone booked with them moves to this session.` }));
  } else {
    const bookable = bookableBeneficiaries();
    who.replaceChildren(
      el('legend', { text: 'Book for' }),
      ...(bookable.length
        ? bookable.map((ben, i) =>
            el(
              'div',
              { className: 'check' },
              el('input', { type: 'checkbox', id: `book-ben-${i}`, value: ben.beneficiary_reference_id, dataset: { dose: nextDose(ben) }, checked: bookable.length === 1 }),
              el('label', { for: `book-ben-${i}`, text: `${ben.name} (${doseName(nextDose(ben))})` }),
            ),
          )
        : [el('p', { text: state.beneficiaries.length ? 'Everyone on this account already has an appointment for their next dose.' : 'Add a beneficiary first (above), then book.' })]),
    );
  }
  $('book-confirm').textContent = rescheduling ? 'Move appointment' : 'Confirm booking';
  $('book-confirm').disabled = !rescheduling && bookableBeneficiaries().length === 0;
  show($('book-error'), '');
  $('book-captcha').hidden = !config.captchaRequired;
  if (config.captchaRequired) void refreshCaptcha();
  $('book-dialog').showModal();
  slots.querySelector('input')?.focus();
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
    closeBooking();
    document.querySelector(`button.session[data-session-id="${CSS.escape(sessionId ?? '')}"]`)?.focus();
  });
  $('book-dialog').addEventListener('close', () => {
    state.booking = null;
  });
  $('captcha-refresh').addEventListener('click', () => void refreshCaptcha());

  $('book-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const booking = state.booking;
    if (!booking) return;
    const { session, center } = state.sessions.get(booking.sessionId);
    const slot = $('book-slots').querySelector('input[name=slot]:checked')?.value;
    if (!slot) return show($('book-error'), 'Please choose a time slot.', 'error');
    const captcha = config.captchaRequired ? $('captcha').value.trim() : undefined;
    if (config.captchaRequired && !captcha) return show($('book-error'), 'Please type the security code.', 'error');
    const rescheduling = state.reschedule;

    let request;
    let chosen = [];
    if (rescheduling) {
      request = ['/api/v2/appointment/reschedule', { appointment_id: rescheduling.appointment.appointment_id, session_id: session.session_id, slot }];
    } else {
      chosen = [...$('book-beneficiaries').querySelectorAll('input[type=checkbox]:checked')];
      if (!chosen.length) return show($('book-error'), 'Please choose who to book for.', 'error');
      const doses = new Set(chosen.map((box) => Number(box.dataset.dose)));
      if (doses.size > 1) return show($('book-error'), 'People who need different doses must be booked separately.', 'error');
      const [dose] = doses;
      if (dose !== 3 && capacityOf(session, dose) < chosen.length) {
        // the server decides, but saying it now saves a refused request in a rush
        return show($('book-error'), `Only ${capacityOf(session, dose)} ${doseName(dose)} doses are left here for ${chosen.length} people. ${messageFor('APPOIN0040')}`, 'error');
      }
      request = [
        '/api/v2/appointment/schedule',
        { dose, session_id: session.session_id, slot, beneficiaries: chosen.map((box) => box.value), center_id: center.center_id, ...(captcha ? { captcha } : {}) },
      ];
    }

    const button = $('book-confirm');
    button.disabled = true;
    show($('book-error'), rescheduling ? 'Moving the appointment…' : 'Booking…');
    try {
      const { json } = await authed('POST', request[0], {
        body: request[1],
        // the same key on a retry of this attempt: a lost answer can never book twice
        headers: rescheduling ? {} : { 'idempotency-key': booking.idempotencyKey },
      });
      closeBooking();
      const appointmentId = rescheduling ? rescheduling.appointment.appointment_id : json.appointment_confirmation_no;
      const who = rescheduling ? rescheduling.ben.name : chosen.map((box) => box.nextElementSibling.textContent.replace(/ \(.*\)$/, '')).join(', ');
      stopReschedule();
      await loadBeneficiaries();
      show(
        $('beneficiaries-status'),
        `${rescheduling ? 'Rescheduled' : 'Booked'}: ${who} at ${center.name} on ${longDayLabel(cowinToDay(session.date))}, ${slot}. Appointment ID ${appointmentId}.`,
        'success',
      );
      const heading = document.querySelector(`.appointment[data-appointment-id="${CSS.escape(appointmentId)}"] h4`);
      heading?.scrollIntoView({ block: 'center' });
      heading?.focus();
    } catch (error) {
      if (error.loggedOut) return;
      show($('book-error'), error.message, 'error');
      if (error.code === 'APPOIN0044') void refreshCaptcha();
      if (error.code !== 'NETWORK') booking.idempotencyKey = newIdempotencyKey();
      $('book-error').scrollIntoView({ block: 'nearest' });
    } finally {
      button.disabled = false;
    }
  });
}

// ------------------------------------------------------------------ start

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
