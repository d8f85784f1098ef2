/**
 * The response schemas of the published "Co-WIN Public APIs" (API Setu, OpenAPI 3.0.2, version
 * 1.1.0 "[Updated on 30 Apr 2021]", cowin-public-v2.yaml), written out here as plain data, plus the
 * fields later production responses added (dose capacities from May 2021, `allow_all_age` and
 * `max_age_limit` from July 2021, `available_capacity_dose3` in 2022) and the June 2021 additions
 * to the spec (findByLatLong, calendarByCenter). `check` is a small JSON-Schema-style validator
 * for them: types, required fields, enums, formats and bounds, every problem at once.
 */

export type Schema =
  | { type: 'object'; required?: string[]; properties: Record<string, Schema> }
  | { type: 'array'; items: Schema; minItems?: number }
  | { type: 'string'; format?: 'uuid' | 'partial-time' | 'date-dd-mm-yyyy' | 'digits'; enum?: string[]; minLength?: number }
  | { type: 'number'; minimum?: number; maximum?: number; integer?: boolean }
  | { type: 'boolean' };

const string = (extra: Omit<Extract<Schema, { type: 'string' }>, 'type'> = {}): Schema => ({ type: 'string', ...extra });
const number = (extra: Omit<Extract<Schema, { type: 'number' }>, 'type'> = {}): Schema => ({ type: 'number', ...extra });
const object = (properties: Record<string, Schema>, required: string[]): Schema => ({ type: 'object', properties, required });
const array = (items: Schema, minItems?: number): Schema => ({ type: 'array', items, ...(minItems ? { minItems } : {}) });

/** CenterResponseSchema (1.1.0); `address`/`address_l` were in every production answer and in 1.2.1 */
const CENTER_PROPERTIES: Record<string, Schema> = {
  center_id: number({ integer: true }),
  name: string({ minLength: 1 }),
  name_l: string(),
  address: string(),
  address_l: string(),
  state_name: string(),
  state_name_l: string(),
  district_name: string(),
  district_name_l: string(),
  block_name: string(),
  block_name_l: string(),
  pincode: number({ integer: true }),
  // the spec bounds coordinates to India's
  lat: number({ minimum: 8.06, maximum: 37.1 }),
  long: number({ minimum: 68.11, maximum: 97.41 }),
  from: string({ format: 'partial-time' }),
  to: string({ format: 'partial-time' }),
  fee_type: string({ enum: ['Free', 'Paid'] }),
};
const CENTER_REQUIRED = ['center_id', 'name', 'state_name', 'district_name', 'block_name', 'pincode', 'from', 'to', 'fee_type'];

/** what every session carries, in find* and calendar* alike (1.1.0 + the later production fields) */
const SESSION_PROPERTIES: Record<string, Schema> = {
  session_id: string({ format: 'uuid' }),
  date: string({ format: 'date-dd-mm-yyyy' }),
  available_capacity: number({ integer: true, minimum: 0 }),
  available_capacity_dose1: number({ integer: true, minimum: 0 }),
  available_capacity_dose2: number({ integer: true, minimum: 0 }),
  available_capacity_dose3: number({ integer: true, minimum: 0 }),
  min_age_limit: number({ integer: true, minimum: 0 }),
  max_age_limit: number({ integer: true, minimum: 0 }),
  allow_all_age: { type: 'boolean' },
  vaccine: string({ minLength: 1 }),
  slots: array(string({ minLength: 1 }), 1),
};
const SESSION_REQUIRED = ['session_id', 'date', 'available_capacity', 'min_age_limit', 'vaccine', 'slots'];
/** required by the production answers clients book from (May–July 2021) */
const LATER_SESSION_REQUIRED = ['available_capacity_dose1', 'available_capacity_dose2', 'available_capacity_dose3', 'allow_all_age'];

const VACCINE_FEES = array(object({ vaccine: string(), fee: string({ format: 'digits' }) }, ['vaccine', 'fee']));

const calendarCenter = object(
  { ...CENTER_PROPERTIES, vaccine_fees: VACCINE_FEES, sessions: array(object(SESSION_PROPERTIES, [...SESSION_REQUIRED, ...LATER_SESSION_REQUIRED])) },
  [...CENTER_REQUIRED, 'sessions'],
);

export const COWIN_PUBLIC_API: Record<string, Schema> = {
  generateOTP: object({ txnId: string({ format: 'uuid' }) }, ['txnId']),
  confirmOTP: object({ token: string({ minLength: 1 }) }, ['token']),
  states: object({ states: array(object({ state_id: number({ integer: true }), state_name: string(), state_name_l: string() }, ['state_id', 'state_name'])), ttl: number() }, ['states']),
  districts: object(
    { districts: array(object({ state_id: number(), district_id: number({ integer: true }), district_name: string(), district_name_l: string() }, ['district_id', 'district_name'])), ttl: number() },
    ['districts'],
  ),
  find: object(
    {
      sessions: array(
        object({ ...CENTER_PROPERTIES, ...SESSION_PROPERTIES, fee: string({ format: 'digits' }) }, [...CENTER_REQUIRED, ...SESSION_REQUIRED, ...LATER_SESSION_REQUIRED, 'fee']),
      ),
    },
    ['sessions'],
  ),
  calendar: object({ centers: array(calendarCenter) }, ['centers']),
  // June 2021: one centre object, not a list
  calendarByCenter: object({ centers: calendarCenter }, ['centers']),
  findByLatLong: object(
    {
      centers: array(
        object(
          {
            center_id: number({ integer: true }),
            name: string({ minLength: 1 }),
            district_name: string(),
            state_name: string(),
            location: string(),
            pincode: number({ integer: true }),
            block_name: string(),
            lat: number({ minimum: -90, maximum: 90 }),
            long: number({ minimum: -180, maximum: 180 }),
          },
          ['center_id', 'name', 'district_name', 'state_name', 'location', 'pincode', 'block_name', 'lat', 'long'],
        ),
      ),
      ttl: number(),
    },
    ['centers', 'ttl'],
  ),
  error: object({ errorCode: string({ minLength: 1 }), error: string({ minLength: 1 }) }, ['errorCode', 'error']),
};

const FORMATS: Record<string, RegExp> = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  'partial-time': /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/,
  'date-dd-mm-yyyy': /^(0[1-9]|[12]\d|3[01])-(0[1-9]|1[0-2])-\d{4}$/,
  digits: /^\d+$/,
};

/** Every way `value` departs from `schema`, as `path: problem` lines (none when it conforms). */
export function check(schema: Schema, value: unknown, path = '$'): string[] {
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: expected an object`];
      const record = value as Record<string, unknown>;
      const problems = (schema.required ?? []).filter((name) => !(name in record)).map((name) => `${path}.${name}: required`);
      for (const [name, property] of Object.entries(schema.properties)) {
        if (name in record) problems.push(...check(property, record[name], `${path}.${name}`));
      }
      return problems;
    }
    case 'array': {
      if (!Array.isArray(value)) return [`${path}: expected an array`];
      const problems = schema.minItems && value.length < schema.minItems ? [`${path}: fewer than ${schema.minItems} items`] : [];
      value.forEach((item, i) => problems.push(...check(schema.items, item, `${path}[${i}]`)));
      return problems;
    }
    case 'string': {
      if (typeof value !== 'string') return [`${path}: expected a string, got ${JSON.stringify(value)}`];
      if (schema.minLength && value.length < schema.minLength) return [`${path}: shorter than ${schema.minLength}`];
      if (schema.enum && !schema.enum.includes(value)) return [`${path}: ${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`];
      if (schema.format && !FORMATS[schema.format]!.test(value)) return [`${path}: ${JSON.stringify(value)} is not a ${schema.format}`];
      return [];
    }
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return [`${path}: expected a number, got ${JSON.stringify(value)}`];
      if (schema.integer && !Number.isInteger(value)) return [`${path}: expected a whole number, got ${value}`];
      if (schema.minimum !== undefined && value < schema.minimum) return [`${path}: ${value} is below ${schema.minimum}`];
      if (schema.maximum !== undefined && value > schema.maximum) return [`${path}: ${value} is above ${schema.maximum}`];
      return [];
    }
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected true or false`];
  }
}
