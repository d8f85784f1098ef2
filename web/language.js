// The pages' words and formats in the reader's language. The words come from web/i18n/<language>.json
// (served by the gateway as i18n-<language>.json next to this module, each key the file lacks in
// English); which languages exist is the country file's `country.languages`, given in the page's
// config. Numbers, dates and money are formatted by Intl for the language and the country.

const STORAGE_KEY = 'teeka.language';

let strings = {};
let plurals = new Intl.PluralRules('en');
/** The language the page is shown in, and the BCP 47 locale used for formats (language-COUNTRY). */
export let language = 'en';
export let locale = 'en';
let timeZone = 'UTC';
let currency = null;

/**
 * The language to show: the one chosen before on this device (localStorage), else the first of the
 * browser's languages the country offers, else the country's first language.
 */
function chooseLanguage(offered) {
  const codes = offered.map((l) => l.code);
  const remembered = localStorage.getItem(STORAGE_KEY);
  if (remembered && codes.includes(remembered)) return remembered;
  for (const tag of navigator.languages ?? []) {
    const primary = tag.toLowerCase().split('-')[0];
    if (codes.includes(primary)) return primary;
  }
  return codes[0];
}

/**
 * Load the page's words, set `<html lang dir>` and fill every element marked `data-i18n` (its text)
 * or `data-i18n-attr="attribute=key,…"` (its attributes). `config` is the page's data block.
 */
export async function loadLanguage(config) {
  language = chooseLanguage(config.languages);
  locale = `${language}-${config.countryCode}`;
  timeZone = config.timeZone;
  currency = config.currency ?? null;
  plurals = new Intl.PluralRules(locale);
  const response = await fetch(new URL(`i18n-${language}.json`, import.meta.url), { cache: 'default' });
  if (!response.ok) throw new Error(`The page's words (${language}) could not be loaded: HTTP ${response.status}`);
  strings = await response.json();
  document.documentElement.lang = language;
  document.documentElement.dir = strings.language?.dir ?? 'ltr';
  translateDocument(document);
}

export function translateDocument(root) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of node.dataset.i18nAttr.split(',')) {
      const [attribute, key] = pair.split('=').map((s) => s.trim());
      node.setAttribute(attribute, t(key));
    }
  }
}

/**
 * The words for `key` ("citizen.loginTitle"), each `{name}` replaced from `values`. A key whose
 * words are a plural set (`{ "one": …, "other": … }`) picks by `values.count` with Intl.PluralRules.
 * A missing key shows itself, so a gap is seen on the page and caught by the tests.
 */
export function t(key, values = {}) {
  let entry = key.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), strings);
  if (entry && typeof entry === 'object') entry = entry[plurals.select(Number(values.count))] ?? entry.other;
  if (typeof entry !== 'string') return key;
  return entry.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** Whether the language file has `key` (for messages that exist only for some codes). */
export function has(key) {
  return key.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), strings) !== undefined;
}

// ------------------------------------------------------------------ formats

export const formatNumber = (value, options = {}) => new Intl.NumberFormat(locale, options).format(value);

/** Whole units of the country's currency (fees in the country file are whole), or null without one. */
export const formatMoney = (value) =>
  currency ? new Intl.NumberFormat(locale, { style: 'currency', currency, currencyDisplay: 'symbol', maximumFractionDigits: 0 }).format(value) : null;

const DAY_MS = 86_400_000;
/** An epoch day (the country's calendar day) in words; epoch days are dates, so they are read in UTC. */
export const formatDay = (day, options = { weekday: 'short', day: 'numeric', month: 'short' }) =>
  new Intl.DateTimeFormat(locale, { ...options, timeZone: 'UTC' }).format(new Date(day * DAY_MS));

/** A moment (epoch ms) as the time of day in the country's time zone. */
export const formatTime = (ms, options = { hour: 'numeric', minute: '2-digit' }) =>
  new Intl.DateTimeFormat(locale, { ...options, timeZone }).format(new Date(ms));

// ------------------------------------------------------------------ the switcher

/**
 * The language switcher (`select`): one option per language of the country, each named in its own
 * language; a choice is remembered on this device and the page reloads in it (a login survives, it
 * is in sessionStorage). A country of one language gets no switcher.
 */
export function setupSwitcher(select, config) {
  const box = select.closest('.language-switch') ?? select;
  if (config.languages.length < 2) {
    box.hidden = true;
    return;
  }
  select.replaceChildren(
    ...config.languages.map(({ code, name }) => {
      const option = document.createElement('option');
      option.value = code;
      option.lang = code;
      option.textContent = name;
      option.selected = code === language;
      return option;
    }),
  );
  box.hidden = false;
  select.addEventListener('change', () => {
    localStorage.setItem(STORAGE_KEY, select.value);
    location.reload();
  });
}
