/**
 * Generates a big synthetic country file for load tests: e.g. 36 states, 700 districts, 50 centres
 * each (35,000 centres; about 240,000 sessions a week). Deterministic for a given seed.
 *
 *   npm run generate-country -- --districts 700 --centers 50 --out /tmp/country-700x50.json
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadCountry } from '../engine/masterdata.js';
import { join } from 'node:path';
import { projectRoot } from '../engine/config.js';
import { runAsCommand } from '../engine/command.js';

interface GeneratorOptions {
  states: number;
  districts: number;
  centersPerDistrict: number;
  seed: number;
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KINDS = ['UPHC', 'PHC', 'CHC', 'Sub Centre', 'District Hospital', 'Government School', 'Private Hospital'];

/** A synthetic country with the demo country's rules, vaccines and reference lists. */
export function generateCountry({ states, districts, centersPerDistrict, seed }: GeneratorOptions): unknown {
  const random = prng(seed);
  const demo = loadCountry(join(projectRoot(), 'masterdata', 'demo-country.json')).data;
  const stateList = Array.from({ length: states }, (_, i) => ({ state_id: i + 1, state_name: `State ${i + 1}` }));
  const districtList = Array.from({ length: districts }, (_, i) => ({
    district_id: 1000 + i,
    district_name: `District ${1000 + i}`,
    state_id: (i % states) + 1,
  }));
  const centers = [];
  let centerId = 100_000;
  for (const district of districtList) {
    const pinBase = 110_000 + ((district.district_id * 37) % 780) * 1000;
    const lat = 8 + random() * 27;
    const long = 68 + random() * 29;
    for (let c = 0; c < centersPerDistrict; c++) {
      centerId += 1;
      const kind = KINDS[Math.floor(random() * KINDS.length)]!;
      const paid = kind === 'Private Hospital';
      const vaccine = random() < 0.7 ? 'COVISHIELD' : 'COVAXIN';
      centers.push({
        center_id: centerId,
        name: `${kind} ${district.district_name}-${c + 1}`,
        address: `Ward ${c + 1}, ${district.district_name}`,
        district_id: district.district_id,
        block_name: `Block ${(c % 8) + 1}`,
        pincode: pinBase + (c % 40),
        lat: Number((lat + (random() - 0.5) * 0.2).toFixed(4)),
        long: Number((long + (random() - 0.5) * 0.2).toFixed(4)),
        from: '09:00:00',
        to: '17:00:00',
        fee_type: paid ? 'Paid' : 'Free',
        ...(paid ? { vaccine_fees: [{ vaccine, fee: vaccine === 'COVISHIELD' ? '780' : '1410' }] } : {}),
        sessions: [
          {
            vaccine,
            min_age_limit: 18,
            allow_all_age: true,
            capacity_dose1: 50 + Math.floor(random() * 150),
            capacity_dose2: 20 + Math.floor(random() * 80),
          },
        ],
      });
    }
  }
  return {
    country: { ...demo.country, code: 'ZZ', name: `Synthetic (${districts} districts × ${centersPerDistrict} centres)`, languages: [demo.country.languages[0]] },
    demo: demo.demo,
    rules: demo.rules,
    genders: demo.genders,
    photo_id_types: demo.photo_id_types,
    vaccines: demo.vaccines,
    states: stateList,
    districts: districtList,
    centers,
  };
}

runAsCommand(import.meta.url, 'generate-country', async () => {
  const { values } = parseArgs({
    options: {
      states: { type: 'string', default: '36' },
      districts: { type: 'string', default: '700' },
      centers: { type: 'string', default: '50' },
      seed: { type: 'string', default: '2021' },
      out: { type: 'string' },
    },
  });
  const options = {
    states: Number(values.states),
    districts: Number(values.districts),
    centersPerDistrict: Number(values.centers),
    seed: Number(values.seed),
  };
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isInteger(value) || value < 1) {
      console.error(`--${name === 'centersPerDistrict' ? 'centers' : name}: expected a whole number above 0`);
      return 2;
    }
  }
  if (!values.out) {
    console.error('--out <file> is required');
    return 2;
  }
  const country = generateCountry(options);
  writeFileSync(values.out, JSON.stringify(country));
  const checked = loadCountry(values.out);
  console.log(`wrote ${values.out}: ${checked.data.states.length} states, ${checked.data.districts.length} districts, ${checked.data.centers.length} centres`);
});
