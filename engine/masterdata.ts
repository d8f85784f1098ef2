/**
 * The country file: everything a country edits to adopt teeka (its administrative levels and their
 * names, states/regions, districts, centres, vaccines and dose schedules, ID types, mobile numbers,
 * currency, search modes, slot layout, OTP and quota limits). This module owns its schema: every
 * field is documented where it is declared, with its default. It is validated when loaded; every
 * problem is listed at once, each naming its field (`centers[12].district_id: 999 is not a
 * district`), and nothing starts on a bad file (`npm run validate-country -- FILE` checks one).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isKnownTimeZone } from './dates.js';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/** CoWIN's slot labels, e.g. `09:00AM-11:00AM`; clients send the label back when booking. */
const slotLabel = z.string().regex(/^(0\d|1[0-2]):[0-5]\d(AM|PM)-(0\d|1[0-2]):[0-5]\d(AM|PM)$/, 'expected a slot label like 09:00AM-11:00AM');
const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/, 'expected HH:MM:SS');

/** A regular expression's source that compiles. */
const regexSource = z.string().min(1).refine((source) => {
  try {
    new RegExp(source, 'u');
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

const rulesSchema = z.strictObject({
  otp: z.strictObject({
    /** digits in an OTP */
    length: z.number().int().min(4).max(10),
    /** how long an OTP can be confirmed */
    validity_seconds: positiveInt,
    /** a new OTP for the same mobile from the same address only after this long */
    resend_after_seconds: nonNegativeInt,
    /**
     * OTPs per mobile from one address in a 24 h window (CoWIN: 50 per mobile). Counted per address,
     * so a stranger's requests never use up the owner's; an OTP request never blocks an account.
     */
    max_per_day: positiveInt,
    /** wrong answers before the pending OTP is discarded */
    max_attempts: positiveInt,
    /**
     * OTPs one client address may ask for (any mobiles) in `per_address_window_seconds`: stops one
     * address sending SMS to a list of numbers. Several citizens can share an address (a household,
     * an office, a carrier's NAT), so leave room for them. Test numbers (no SMS) are not counted.
     */
    per_address_max: positiveInt.default(10),
    per_address_window_seconds: positiveInt.default(600),
    /** OTPs issued in the whole country per clock minute: what the SMS provider is contracted for */
    country_max_per_minute: positiveInt.default(60_000),
  }),
  /** citizens' mobile numbers, as they type them (without the country code) */
  mobile: z.strictObject({
    /** the international calling code, digits only: `91` for India, `592` for Guyana (shown as +592) */
    country_code: z.string().regex(/^[1-9]\d{0,2}$/, 'expected 1 to 3 digits, like 91'),
    /** digits in a national mobile number (India 10, Guyana 7) */
    digits: z.number().int().min(5).max(15),
    /**
     * what a mobile number matches whole (it is anchored for you), e.g. `[6-9][0-9]{9}`: a number
     * of the right length that no mobile network hands out is refused before an SMS is paid for.
     * Default: any `digits` digits.
     */
    pattern: regexSource.optional(),
    /** what a citizen is told is expected, e.g. `10 digits starting with 6, 7, 8 or 9`. Default `<digits> digits` */
    format: z.string().min(1).optional(),
    /** a mobile number as people write it (checked against the rule when the file is loaded) */
    example: z.string().regex(/^\d+$/, 'expected digits').optional(),
  }),
  /**
   * Whether citizens may search by PIN code (CoWIN's word for a postal code: findByPin and
   * calendarByPin, public and protected). Default true. A country without postal codes, or whose
   * centres are not known by them, sets false: those endpoints then answer APPOIN0018 saying so,
   * the citizen page hides the search, and centres may leave out `pincode`.
   */
  search_by_pincode: z.boolean().default(true),
  /** lifetime of a citizen's login token */
  token_ttl_seconds: positiveInt,
  /** beneficiaries one mobile can register (CoWIN: 4, then 6 from January 2022) */
  beneficiaries_per_account: z.number().int().min(1).max(20),
  search_quota: z.strictObject({
    /** the short window: more than `max_per_window` searches in it logs the user out */
    window_seconds: positiveInt,
    max_per_window: positiveInt,
    /** the long window: more than `max_per_day` searches in it blocks the account */
    day_seconds: positiveInt,
    max_per_day: positiveInt,
    /** how long a block lasts */
    block_seconds: positiveInt,
  }),
  /** the unauthenticated API's per-address limit */
  public_rate_limit: z.strictObject({ window_seconds: positiveInt, max_calls: positiveInt }),
  /** bookings for a day close at this local hour of that day (0 closes them the evening before) */
  booking_cutoff_hour: z.number().int().min(0).max(24),
  /** how many days a calendar search covers, starting at the requested date */
  calendar_days: z.number().int().min(1).max(31),
  /** the default slot layout of a session; a centre may override it */
  slots: z.array(slotLabel).min(1).max(12),
  /**
   * Fair admission at an opening (engine/fair-admission.ts): the defaults of a session published
   * without saying. Citizens who join before `opens_at` are shuffled at the opening, later ones queue
   * first come first served, and `schedule` needs an admission. Off by default: CoWIN clients book as
   * they always did.
   */
  fair_admission: z
    .strictObject({
      /** whether a session is under fair admission when its publication does not say. Default false */
      enabled: z.boolean().default(false),
      /** the pre-queue opens this many minutes before `opens_at`. Default 30 */
      prequeue_minutes: z.number().int().min(0).max(1440).default(30),
      /** places admitted per second (a fraction is allowed: 0.5 is one every 2 s). Default 10 */
      admission_rate: z.number().positive().max(100_000).default(10),
      /** how long an admission stays usable; unused, it passes to the next place. Default 60 */
      admission_seconds: z.number().int().min(5).max(3600).default(60),
      /**
       * a waiting place not seen (status asked, WebSocket open) for this long after the opening is
       * skipped when its turn comes (it may join again, at the end). 0: never skipped. Default 120
       */
      grace_seconds: z.number().int().min(0).max(86_400).default(120),
    })
    .prefault({}),
});

/**
 * A vaccine and its schedule: the primary doses (one or two) and the precaution (booster) dose,
 * each with the minimum days since the dose before it. The API's dose numbers are CoWIN's: 1, 2,
 * and 3 for the precaution dose, which follows the last primary dose (dose 1 of a single-dose
 * vaccine). The precaution dose is of the same vaccine as the primary doses.
 */
const vaccineSchema = z.strictObject({
  name: z.string().min(1).regex(/^[A-Z0-9 -]+$/, 'expected an upper-case vaccine name like COVISHIELD'),
  /** primary doses: 2 (most vaccines) or 1 (a single-dose vaccine such as Janssen: no dose 2). Default 2 */
  doses: z.union([z.literal(1), z.literal(2)]).default(2),
  /**
   * the vaccine's CVX code (CDC's vaccine code set), which its certificates carry (SMART Health Cards).
   * Default 213, "COVID-19 vaccine, unspecified formulation"
   */
  cvx: z.string().regex(/^\d{1,4}$/, 'expected a CVX code like 210').optional(),
  /** minimum days from dose 1 to dose 2 (Covishield 84, Covaxin 28, Sputnik V 21); only, and then required, when `doses` is 2 */
  dose2_after_days: positiveInt.optional(),
  /**
   * minimum days from the last primary dose to the precaution dose (India: 39 weeks = 273 days).
   * Absent: this vaccine has no precaution dose, and booking one is refused.
   */
  precaution_after_days: positiveInt.optional(),
  /**
   * the youngest age the vaccine is given at (Pfizer-BioNTech 12). Default 0: only the sessions'
   * age limits apply. Every session of it, planned or published, must have `min_age_limit` at least this.
   */
  min_age: z.number().int().min(0).max(120).default(0),
});

const sessionPlanSchema = z.strictObject({
  vaccine: z.string(),
  min_age_limit: z.number().int().min(0).max(120),
  max_age_limit: z.number().int().min(0).max(120).optional(),
  allow_all_age: z.boolean().optional(),
  capacity_dose1: nonNegativeInt,
  capacity_dose2: nonNegativeInt,
  /** days of the week the centre runs this session (0 = Sunday); every day when absent */
  weekdays: z.array(z.number().int().min(0).max(6)).min(1).optional(),
});

const languageCode = z.string().regex(/^[a-z]{2,3}$/, 'expected a language code like hi (ISO 639)');

/**
 * Names in the country's other languages, by language: `{ "hi": { "state_name": "दिल्ली" } }`.
 * The API answers them as CoWIN's `*_l` fields (`state_name_l`) in the language the client's
 * Accept-Language asks for; which fields each kind may localise is checked below.
 */
const localizedNames = z.record(languageCode, z.record(z.string(), z.string().min(1))).optional();

/** The fields each kind of place may give in other languages (CoWIN's `*_l` fields). */
export const LOCALIZED_FIELDS = {
  states: ['state_name'],
  districts: ['district_name'],
  centers: ['name', 'address', 'block_name'],
} as const;

const centerSchema = z.strictObject({
  center_id: positiveInt,
  name: z.string().min(1),
  address: z.string(),
  district_id: positiveInt,
  block_name: z.string(),
  /**
   * the centre's postal code (CoWIN: pincode). Required while `rules.search_by_pincode` is on;
   * otherwise optional, and answered as 0 where CoWIN's shapes have it (see README).
   */
  pincode: z.number().int().min(1000).max(999999999).optional(),
  lat: z.number().min(-90).max(90),
  long: z.number().min(-180).max(180),
  from: clockTime,
  to: clockTime,
  fee_type: z.enum(['Free', 'Paid']),
  /** the fee of each vaccine at a Paid centre, in whole units of `country.currency` (CoWIN: a string of digits) */
  vaccine_fees: z.array(z.strictObject({ vaccine: z.string(), fee: z.string().regex(/^\d+$/) })).optional(),
  /** overrides `rules.slots` for this centre */
  slots: z.array(slotLabel).min(1).max(12).optional(),
  /** the sessions this centre runs; the seeder publishes them for the coming days */
  sessions: z.array(sessionPlanSchema),
  localized: localizedNames,
});

/**
 * A kind of photo ID and how its numbers are written. The normal form of a number is what is left
 * after dropping `separators` (and whitespace at either end) and upper-casing letters; it must
 * match `pattern` whole. Two numbers with the same normal form are the same document: the
 * one-document-one-account rule is kept on the normal form.
 */
const photoIdTypeSchema = z.strictObject({
  id: positiveInt,
  type: z.string().min(1),
  number: z.strictObject({
    /** the normal form matches this whole (it is anchored for you), e.g. `[0-9]{12}` */
    pattern: regexSource,
    /** characters people write between groups of the number, e.g. " -" for `1234-5678 9012` */
    separators: z.string(),
    /** what a citizen is told is expected, e.g. `12 digits` */
    format: z.string().min(1),
    /** a number as people write it; checked against the rule when the file is loaded */
    example: z.string().min(1),
  }),
});

const countrySchema = z.strictObject({
  country: z.strictObject({
    code: z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166 alpha-2 code'),
    name: z.string().min(1),
    timezone: z.string().refine(isKnownTimeZone, 'not a known IANA time zone'),
    /** the languages of the API's `*_l` names and the pages; the first is the language of the plain names */
    languages: z.array(languageCode).min(1).default(['en']),
    /**
     * The words citizens and operators know the two administrative levels by, as shown on a label
     * ("State", "Region"; "District", "Area"). Default State and District. The API keeps CoWIN's
     * field names (`state_id`, `district_name`) whatever the words: clients are written against them.
     */
    admin_levels: z
      .strictObject({
        /** the first level: `states` in this file, `/admin/location/states` in the API */
        state: z.string().min(1).max(40),
        /** the second level: `districts` in this file, `/admin/location/districts/{state_id}` in the API */
        district: z.string().min(1).max(40),
      })
      .default({ state: 'State', district: 'District' }),
    /**
     * The ISO 4217 code of the currency fees are in (`INR`, `GYD`): the pages format fees with it.
     * Required when a centre is Paid; absent, every centre must be Free.
     */
    currency: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 currency code like INR').optional(),
  }),
  /**
   * Settings that apply only when teeka runs as a demo (TEEKA_ENV=demo); production ignores them.
   * Absent: the demo has no test numbers unless TEEKA_TEST_MOBILE_PREFIX gives some.
   */
  demo: z
    .strictObject({
      /**
       * mobiles starting with it are test numbers that accept the fixed OTP (engine/config.ts,
       * TEEKA_TEST_MOBILE_PREFIX, which overrides it). Leave room for load tests' many numbers:
       * India's `9999` leaves a million 10-digit numbers, Guyana's `699` ten thousand.
       */
      test_mobile_prefix: z.string().regex(/^\d{1,10}$/, 'expected 1 to 10 digits'),
    })
    .optional(),
  rules: rulesSchema,
  genders: z.array(z.strictObject({ id: positiveInt, name: z.string().min(1) })).min(1),
  photo_id_types: z.array(photoIdTypeSchema).min(1),
  vaccines: z.array(vaccineSchema).min(1),
  states: z.array(z.strictObject({ state_id: positiveInt, state_name: z.string().min(1), localized: localizedNames })).min(1),
  districts: z
    .array(z.strictObject({ district_id: positiveInt, district_name: z.string().min(1), state_id: positiveInt, localized: localizedNames }))
    .min(1),
  centers: z.array(centerSchema),
});

export type CountryFile = z.infer<typeof countrySchema>;
export type Rules = CountryFile['rules'];
export type Vaccine = CountryFile['vaccines'][number];
export type Center = CountryFile['centers'][number];
export type District = CountryFile['districts'][number];
export type State = CountryFile['states'][number];
export type SessionPlan = Center['sessions'][number];
export type PhotoIdType = CountryFile['photo_id_types'][number];

/** A photo ID number in its normal form, or what its type expects instead. */
export type PhotoIdNumber = { ok: true; normal: string } | { ok: false; expected: string };

/** A photo ID type's rule, ready to apply. */
class PhotoIdRule {
  private readonly pattern: RegExp;
  private readonly separators: Set<string>;

  constructor(readonly type: PhotoIdType) {
    this.pattern = new RegExp(`^(?:${type.number.pattern})$`, 'u');
    this.separators = new Set(type.number.separators);
  }

  /** what a citizen is told, e.g. `12 digits for Aadhaar Card, like 1234 5678 9012` */
  get expected(): string {
    return `${this.type.number.format} for ${this.type.type}, like ${this.type.number.example}`;
  }

  apply(written: string): PhotoIdNumber {
    let normal = '';
    for (const character of written.trim()) if (!this.separators.has(character)) normal += character;
    normal = normal.toUpperCase();
    return this.pattern.test(normal) ? { ok: true, normal } : { ok: false, expected: this.expected };
  }
}

/** The country's rule for mobile numbers (`rules.mobile`), ready to apply. */
export class MobileRule {
  private readonly pattern: RegExp;
  /** what a citizen is told is expected, e.g. `7 digits starting with 6` */
  readonly format: string;

  constructor(readonly rule: Rules['mobile']) {
    this.pattern = new RegExp(`^(?=[0-9]{${rule.digits}}$)(?:${rule.pattern ?? '[0-9]+'})$`, 'u');
    this.format = rule.format ?? `${rule.digits} digits`;
  }

  /** True when `mobile` (digits, no country code) is a mobile number of the country. */
  accepts(mobile: string): boolean {
    return this.pattern.test(mobile);
  }

  /** True when some mobile number of the country starts with `prefix` (tried with each digit filling the rest). */
  acceptsPrefix(prefix: string): boolean {
    if (prefix.length >= this.rule.digits) return false;
    return [...'0123456789'].some((digit) => this.accepts(prefix.padEnd(this.rule.digits, digit)));
  }
}

export class MasterDataError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is not a valid country file:\n  - ${problems.slice(0, 20).join('\n  - ')}${problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ''}`);
    this.name = 'MasterDataError';
  }
}

function pathText(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)), '');
}

/**
 * Cross-references a schema cannot express: ids unique, every reference resolves, the rules agree
 * with each other. Each check runs on its own, so when the shape is wrong somewhere (and `data` is
 * not quite a CountryFile) the checks that can still run do, and every problem is listed at once.
 */
const referenceChecks: ((data: CountryFile, problem: (text: string) => void) => void)[] = [
  function idsAreUnique(data, problem) {
    for (const [kind, id] of [
      ['states', (s: State) => s.state_id],
      ['districts', (d: District) => d.district_id],
      ['centers', (c: Center) => c.center_id],
      ['vaccines', (v: Vaccine) => v.name],
      ['genders', (g: CountryFile['genders'][number]) => g.id],
      ['photo_id_types', (t: PhotoIdType) => t.id],
    ] as const) {
      const seen = new Map<unknown, number>();
      (data[kind] as unknown[]).forEach((item, i) => {
        const value = (id as (item: unknown) => unknown)(item);
        const first = seen.get(value);
        if (first !== undefined) problem(`${kind}[${i}]: id ${String(value)} repeats ${kind}[${first}]`);
        else seen.set(value, i);
      });
    }
  },
  function photoIdExamplesFit(data, problem) {
    data.photo_id_types.forEach((t, i) => {
      if (!new PhotoIdRule(t).apply(t.number.example).ok) {
        problem(`photo_id_types[${i}].number.example: "${t.number.example}" does not match its own pattern after dropping separators`);
      }
    });
  },
  function slotsAreDistinct(data, problem) {
    if (new Set(data.rules.slots).size !== data.rules.slots.length) problem('rules.slots: a slot label repeats');
  },
  function mobileRuleHolds(data, problem) {
    const mobile = data.rules.mobile;
    const rule = new MobileRule(mobile);
    if (mobile.example !== undefined && !rule.accepts(mobile.example)) {
      problem(`rules.mobile.example: "${mobile.example}" is not ${rule.format}`);
    }
    const prefix = data.demo?.test_mobile_prefix;
    if (prefix !== undefined && !rule.acceptsPrefix(prefix)) {
      problem(`demo.test_mobile_prefix: no mobile number starting ${prefix} is ${rule.format} (rules.mobile)`);
    }
  },
  function localizedNamesAreKnown(data, problem) {
    const languages = new Set(data.country.languages);
    if (languages.size !== data.country.languages.length) problem('country.languages: a language repeats');
    for (const kind of ['states', 'districts', 'centers'] as const) {
      const fields: readonly string[] = LOCALIZED_FIELDS[kind];
      data[kind].forEach((place, i) => {
        for (const [language, names] of Object.entries(place.localized ?? {})) {
          if (!languages.has(language)) problem(`${kind}[${i}].localized.${language}: not one of country.languages (${data.country.languages.join(', ')})`);
          for (const field of Object.keys(names)) {
            if (!fields.includes(field)) problem(`${kind}[${i}].localized.${language}.${field}: only ${fields.join(', ')} can be localised`);
          }
        }
      });
    }
  },
  function vaccineSchedulesAreWhole(data, problem) {
    data.vaccines.forEach((v, i) => {
      if (v.doses === 2 && v.dose2_after_days === undefined) problem(`vaccines[${i}].dose2_after_days: required for a two-dose vaccine`);
      if (v.doses === 1 && v.dose2_after_days !== undefined) problem(`vaccines[${i}].dose2_after_days: a single-dose vaccine (doses 1) has no dose 2`);
    });
  },
  function districtsHaveStates(data, problem) {
    const states = new Set(data.states.map((s) => s.state_id));
    data.districts.forEach((d, i) => {
      if (!states.has(d.state_id)) problem(`districts[${i}].state_id: ${d.state_id} is not a state`);
    });
  },
  function centersAreConsistent(data, problem) {
    const districts = new Set(data.districts.map((d) => d.district_id));
    const vaccines = new Map(data.vaccines.map((v) => [v.name, v]));
    const byPin = data.rules.search_by_pincode;
    const paid = data.centers.flatMap((c, i) => (c.fee_type === 'Paid' ? [`centers[${i}]`] : []));
    if (paid.length && data.country.currency === undefined) {
      problem(`country.currency: required, since ${paid.length === 1 ? `${paid[0]} is` : `${paid.length} centres (${paid.slice(0, 3).join(', ')}${paid.length > 3 ? ', …' : ''}) are`} Paid`);
    }
    data.centers.forEach((c, i) => {
      if (!districts.has(c.district_id)) problem(`centers[${i}].district_id: ${c.district_id} is not a district`);
      if (byPin && c.pincode === undefined) problem(`centers[${i}].pincode: required while rules.search_by_pincode is on`);
      if (c.from >= c.to) problem(`centers[${i}].to: ${c.to} is not after from ${c.from}`);
      if (c.slots && new Set(c.slots).size !== c.slots.length) problem(`centers[${i}].slots: a slot label repeats`);
      if (c.fee_type === 'Paid' && !c.vaccine_fees?.length) problem(`centers[${i}].vaccine_fees: a Paid centre needs its fees`);
      c.vaccine_fees?.forEach((f, j) => {
        if (!vaccines.has(f.vaccine)) problem(`centers[${i}].vaccine_fees[${j}].vaccine: ${f.vaccine} is not a vaccine`);
      });
      c.sessions.forEach((s, j) => {
        const at = `centers[${i}].sessions[${j}]`;
        const vaccine = vaccines.get(s.vaccine);
        if (!vaccine) problem(`${at}.vaccine: ${s.vaccine} is not a vaccine`);
        else if (s.min_age_limit < vaccine.min_age) problem(`${at}.min_age_limit: ${s.min_age_limit} is below ${s.vaccine}'s min_age ${vaccine.min_age}`);
        if (s.max_age_limit !== undefined && s.max_age_limit < s.min_age_limit)
          problem(`${at}.max_age_limit: ${s.max_age_limit} is below min_age_limit ${s.min_age_limit}`);
      });
    });
  },
];

/** The field a problem names: `centers[3].district_id` of `centers[3].district_id: 999 is not …`. */
const problemField = (text: string) => text.slice(0, text.indexOf(':'));

/** True when field `inner` is `outer` or lies inside it (`centers[1].lat` in `centers[1]`, not in `centers[10]`). */
const within = (inner: string, outer: string) =>
  outer === '(root)' || inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);

/** The problems of parsed JSON as a country file, and the file itself when there are none. */
function examineCountry(raw: unknown): { problems: string[]; data?: CountryFile } {
  const parsed = countrySchema.safeParse(raw);
  const shape = parsed.success ? [] : parsed.error.issues.map((issue) => `${pathText(issue.path) || '(root)'}: ${issue.message}`);
  const data = (parsed.success ? parsed.data : raw) as CountryFile;
  const references: string[] = [];
  for (const check of referenceChecks) {
    try {
      check(data, (text) => references.push(text));
    } catch {
      // a part of the file this check reads has the wrong shape: the shape problems say where
    }
  }
  if (parsed.success) return references.length ? { problems: references } : { problems: [], data: parsed.data };
  // a reference problem about a field the shape check already named only repeats it
  const named = shape.map(problemField);
  const repeats = (field: string) => named.some((n) => within(field, n) || within(n, field));
  return { problems: [...shape, ...references.filter((text) => !repeats(problemField(text)))] };
}

/**
 * Every problem of a parsed JSON value as a country file, each naming its field; empty when it is
 * one. The shape is checked first; the cross-references are checked too, as far as they can run
 * on what is there, leaving out what only repeats a field the shape check already named.
 */
export function countryProblems(raw: unknown): string[] {
  return examineCountry(raw).problems;
}

/** Validate parsed JSON as a country file. `source` names it in errors. */
export function parseCountry(raw: unknown, source = 'country file'): Country {
  const { problems, data } = examineCountry(raw);
  if (!data) throw new MasterDataError(source, problems);
  return new Country(data);
}

/** A country file's JSON, or the one problem that stops it being read. */
function readCountryJson(path: string): { ok: true; raw: unknown } | { ok: false; problem: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { ok: false, problem: `cannot read the file: ${(err as Error).message}` };
  }
  try {
    return { ok: true, raw: JSON.parse(text) };
  } catch (err) {
    return { ok: false, problem: `not valid JSON: ${(err as Error).message}` };
  }
}

/** Every problem of the country file at `path` (see countryProblems); empty when it is valid. */
export function countryFileProblems(path: string): string[] {
  const read = readCountryJson(path);
  return read.ok ? countryProblems(read.raw) : [read.problem];
}

/** Read and validate a country file from disk. */
export function loadCountry(path: string): Country {
  const read = readCountryJson(path);
  if (!read.ok) throw new MasterDataError(path, [read.problem]);
  return parseCountry(read.raw, path);
}

/** A validated country with the lookups the engine and gateway need. */
export class Country {
  readonly statesById = new Map<number, State>();
  readonly districtsById = new Map<number, District>();
  readonly districtsByState = new Map<number, District[]>();
  readonly centersById = new Map<number, Center>();
  readonly centersByDistrict = new Map<number, Center[]>();
  readonly centersByPincode = new Map<number, Center[]>();
  readonly vaccinesByName = new Map<string, Vaccine>();
  private readonly photoIdRules = new Map<number, PhotoIdRule>();

  constructor(readonly data: CountryFile) {
    for (const s of data.states) this.statesById.set(s.state_id, s);
    for (const d of data.districts) {
      this.districtsById.set(d.district_id, d);
      push(this.districtsByState, d.state_id, d);
    }
    for (const c of data.centers) {
      this.centersById.set(c.center_id, c);
      push(this.centersByDistrict, c.district_id, c);
      if (c.pincode !== undefined) push(this.centersByPincode, c.pincode, c);
    }
    for (const v of data.vaccines) this.vaccinesByName.set(v.name, v);
    for (const t of data.photo_id_types) this.photoIdRules.set(t.id, new PhotoIdRule(t));
    this.mobile = new MobileRule(data.rules.mobile);
  }

  /** the rule citizens' mobile numbers follow */
  readonly mobile: MobileRule;

  /**
   * A centre's pincode as CoWIN's shapes answer it: 0 for a centre without one (a country without
   * postal codes). CoWIN's published schema makes `pincode` a required integer, and clients parse
   * it as one: leaving it out or answering null would break them, and no postal code is 0.
   */
  pincodeOf(center: Center): number {
    return center.pincode ?? 0;
  }

  /** Primary doses of a vaccine (1 or 2); 2 for a name the file does not know (a dropped vaccine). */
  primaryDoses(vaccine: string): 1 | 2 {
    return this.vaccinesByName.get(vaccine)?.doses ?? 2;
  }

  /**
   * A photo ID number as written (`1234-5678 9012`) in its type's normal form (`123456789012`), or
   * what the type expects when it does not fit. The normal form is the document's identity.
   */
  photoIdNumber(photoIdType: number, written: string): PhotoIdNumber {
    const rule = this.photoIdRules.get(photoIdType);
    if (!rule) return { ok: false, expected: 'a photo ID type from /registration/beneficiary/idTypes' };
    return rule.apply(written);
  }

  get rules(): Rules {
    return this.data.rules;
  }

  /** the country's languages; the first is the language of the plain names */
  get languages(): readonly string[] {
    return this.data.country.languages;
  }

  private readonly negotiated = new Map<string, string>();

  /**
   * The country's language an Accept-Language header asks for (`hi-IN,hi;q=0.9,en;q=0.8`, or CoWIN's
   * `hi_IN`), by quality then order; the first language when none fits. Answers are cached: a
   * country's clients send few distinct headers, and this runs on the search path.
   */
  language(acceptLanguage: string | undefined): string {
    if (!acceptLanguage) return this.languages[0]!;
    let chosen = this.negotiated.get(acceptLanguage);
    if (chosen) return chosen;
    const offered = acceptLanguage
      .split(',')
      .map((part, order) => {
        const [tag = '', ...params] = part.trim().split(';');
        const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean);
        return { primary: tag.split(/[-_]/)[0]!.toLowerCase(), q: q === undefined ? 1 : Number(q), order };
      })
      .filter((o) => o.q > 0 && this.languages.includes(o.primary))
      .sort((a, b) => b.q - a.q || a.order - b.order);
    chosen = offered[0]?.primary ?? this.languages[0]!;
    if (this.negotiated.size < 1000) this.negotiated.set(acceptLanguage, chosen);
    return chosen;
  }

  /** A place's `field` in `language` (CoWIN's `*_l` field); the plain name when the file has none. */
  localName(place: { localized?: Record<string, Record<string, string>> | undefined }, field: string, plain: string, language: string): string {
    return place.localized?.[language]?.[field] ?? plain;
  }

  get timeZone(): string {
    return this.data.country.timezone;
  }

  slotsOf(center: Center): string[] {
    return center.slots ?? this.data.rules.slots;
  }

  stateOfCenter(center: Center): State {
    const district = this.districtsById.get(center.district_id)!;
    return this.statesById.get(district.state_id)!;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
